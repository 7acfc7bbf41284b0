"""Adding and removing accounts: the [[accounts]] tables of outreach.toml, and what the
store knows of each account (its authorization flag, its outreach in progress).

outreach.toml is edited as text, so that the person's comments and layout survive; every
new text is validated as settings before it replaces the file (written beside it, then
renamed), so a failed edit leaves the file as it was.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update

from pipeline.app import App
from pipeline.connect import local_path
from pipeline.emails import InvalidEmail, normalize_email
from pipeline.errors import InputError
from pipeline.lifecycle import TERMINAL_STAGES
from pipeline.models import Account, Outreach, Step
from pipeline.settings import (
    WORKSPACE_FILE,
    AccountSettings,
    Settings,
    account_name_problem,
    load_settings,
    settings_from,
)
from pipeline.steps import StepStatus

_ACCOUNTS_HEADER = re.compile(r"^\s*\[\[\s*accounts\s*\]\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")
# A draft of these steps may sit in the mailbox, or is about to be written there.
_OPEN_STEPS = (
    StepStatus.PLANNED,
    StepStatus.QUEUED,
    StepStatus.DRAFTING,
    StepStatus.DRAFTED,
    StepStatus.WITHDRAWING,
)


def checked_address(name: str, address: str) -> str:
    """The normalized address, once the account's name and address are both usable."""
    problem = account_name_problem(name)
    if problem is not None:
        raise InputError(f"--name: {problem}")
    try:
        return normalize_email(address)
    except InvalidEmail as err:
        raise InputError(f"--address {address!r}: {err}") from None


def case_twin(settings: Settings, name: str) -> str | None:
    """The account whose name is ``name`` but for letter case, if there is one."""
    for account in settings.accounts:
        if account.name.casefold() == name.casefold() and account.name != name:
            return account.name
    return None


def account_exists(settings: Settings, name: str) -> bool:
    """Whether an account is named ``name`` (given with ``--name`` to an ``accounts add``
    command); an error when one is named so but for letter case."""
    twin = case_twin(settings, name)
    if twin is not None:
        raise InputError(
            f"--name {name}: account {twin!r} differs only in letter case; "
            "give this account another name, or use that one"
        )
    return any(account.name == name for account in settings.accounts)


def named_account(settings: Settings, name: str) -> AccountSettings:
    """The account named ``name`` (the NAME of ``accounts remove``), else an error that
    lists the accounts there are, and the one meant when only letter case differs."""
    if any(account.name == name for account in settings.accounts):
        return settings.account(name)
    known = ", ".join(a.name for a in settings.accounts) or "none"
    twin = case_twin(settings, name)
    hint = f"; did you mean {twin!r}? (names match letter case)" if twin else ""
    raise InputError(f"no account named {name!r}{hint}; known accounts: {known}")


def _checked_text(workspace: Path, text: str) -> str:
    """``text``, once it reads as valid settings for outreach.toml."""
    settings_from(tomllib.loads(text), workspace, str(workspace / WORKSPACE_FILE))
    return text


def replace_settings_text(workspace: Path, text: str) -> None:
    """Write ``text`` as outreach.toml once it reads as valid settings (beside it first,
    then renamed over it)."""
    path = workspace / WORKSPACE_FILE
    _checked_text(workspace, text)
    temporary = path.with_suffix(".toml.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def append_account(workspace: Path, entry: dict[str, str]) -> None:
    """Add an [[accounts]] table to outreach.toml, validated before the file is replaced."""
    path = workspace / WORKSPACE_FILE
    settings = load_settings(workspace)
    if account_exists(settings, entry["name"]):
        raise InputError(f"{path}: an account named {entry['name']!r} exists already")
    for option, default in (("maildir", "mail"), ("calendar", "calendar")):
        wanted = local_path(workspace, entry.get(option), default)
        taken = [
            a.name
            for a in settings.accounts
            if a.kind == "local" and local_path(workspace, getattr(a, option), default) == wanted
        ]
        if entry.get(option) and taken:
            raise InputError(
                f"--{option} {entry[option]}: account {taken[0]!r} uses that folder already; "
                f"give this account a folder of its own with --{option}"
            )
    block = "\n[[accounts]]\n" + "".join(
        f"{key} = {json.dumps(value, ensure_ascii=False)}\n" for key, value in entry.items()
    )
    replace_settings_text(workspace, path.read_text(encoding="utf-8") + block)


def without_account(workspace: Path, name: str) -> str:
    """The text of outreach.toml with the [[accounts]] table named ``name`` taken out (the
    rest, comments included, as it is), checked as settings; the file is not written."""
    path = workspace / WORKSPACE_FILE
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if _ACCOUNTS_HEADER.match(line)]
    for start in starts:
        end = next(
            (j for j in range(start + 1, len(lines)) if _ANY_HEADER.match(lines[j])), len(lines)
        )
        block = "".join(lines[start:end])
        try:
            found = tomllib.loads(block).get("accounts", [{}])[0].get("name")
        except (tomllib.TOMLDecodeError, IndexError, AttributeError):
            found = None
        if found == name:
            return _checked_text(workspace, "".join(lines[:start] + lines[end:]))
    raise InputError(
        f"{path}: account {name!r} is not written as an [[accounts]] table; remove it from "
        "the file by hand"
    )


@dataclass(frozen=True)
class Activity:
    """What of an account's outreach is still under way."""

    in_progress: int  # outreach not yet ended
    open_drafts: int  # drafts waiting in the mailbox, or steps about to write one


def activity(app: App, name: str) -> Activity:
    with app.store.read() as session:
        account_id = session.scalar(select(Account.id).where(Account.name == name))
        if account_id is None:
            return Activity(0, 0)
        in_progress = session.scalar(
            select(func.count(Outreach.id)).where(
                Outreach.account_id == account_id,
                Outreach.stage.not_in([stage.value for stage in TERMINAL_STAGES]),
            )
        )
        open_drafts = session.scalar(
            select(func.count(Step.id))
            .join(Outreach, Outreach.id == Step.outreach_id)
            .where(Outreach.account_id == account_id, Step.status.in_(_OPEN_STEPS))
        )
    return Activity(int(in_progress or 0), int(open_drafts or 0))


def authorized_again(app: App, name: str) -> None:
    """The person signed in anew: the account's steps may be tried again."""
    with app.store.write() as session:
        session.execute(
            update(Account)
            .where(Account.name == name)
            .values(needs_reauth=False, reauth_reason=None)
        )


def reauth_flags(app: App) -> dict[str, str | None]:
    """The accounts waiting for the person to authorize them again, with the reason."""
    with app.store.read() as session:
        return {
            row.name: row.reauth_reason
            for row in session.scalars(select(Account).where(Account.needs_reauth.is_(True)))
        }

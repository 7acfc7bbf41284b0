"""Dramatiq actors: each takes ids, calls one use case, and is safe to run twice.

Transient provider trouble becomes a Dramatiq retry (after the provider's Retry-After when
it gave one); permanent trouble and revoked authorization are not retried: the step or the
account records why, and `outreach status` and the digest say what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any, ParamSpec, TypeVar

import dramatiq
from sqlalchemy.exc import OperationalError

from workers.broker import QUEUE, setup_broker

setup_broker()  # before any actor is declared

from pipeline import drafting  # noqa: E402
from pipeline.errors import AuthError, InputError, PermanentError, TransientError  # noqa: E402
from workers.runtime import current_app  # noqa: E402

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def _retrying(func: Callable[P, R]) -> Callable[P, R]:
    """Turn TransientError(retry_after) into a Dramatiq retry with that delay, and a
    database that is locked, full or away into a plain retry (no traceback per job)."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TransientError as err:
            delay = int(err.retry_after * 1000) if err.retry_after else None
            raise dramatiq.Retry(str(err), delay=delay) from err
        except OperationalError as err:  # the database locked, full or away: try again
            reason = (str(err.orig).strip().splitlines() or ["unavailable"])[0]
            raise dramatiq.Retry(f"database: {reason}") from err

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


_PERMANENT = (PermanentError, InputError, AuthError)


def _actor(func: Callable[..., Any]) -> Any:
    return dramatiq.actor(queue_name=QUEUE, throws=_PERMANENT)(_retrying(func))


@_actor
def create_draft(step_id: int) -> None:
    """Put the draft of one due step in the person's mailbox (once)."""
    outcome = drafting.create_draft(current_app(), step_id)
    log.debug("step %s: %s", outcome.key, outcome.outcome)


@_actor
def create_drafts(step_ids: list[int]) -> None:
    """Put the drafts of a batch of due steps in the person's mailboxes (each once), with
    two database transactions for the whole batch."""
    for outcome in drafting.create_drafts(current_app(), step_ids):
        log.debug("step %s: %s", outcome.key, outcome.outcome)


@_actor
def prep_meeting(meeting_id: int) -> None:
    """Write, move or remove the prep-notes event of one meeting (once)."""
    drafting.prep_meeting(current_app(), meeting_id)


@_actor
def discard_draft(step_id: int) -> None:
    """Take back a draft that became moot (the contact answered before it was sent)."""
    drafting.discard_step(current_app(), step_id)


@_actor
def sync_account(account: str) -> None:
    """Sync one account's mailbox and calendar and advance the lifecycles."""
    from pipeline.tick import sync_one

    sync_one(current_app(), account)


@_actor
def deliver_digest(account: str, day: str) -> None:
    """Deliver the day's digest to the person's own inbox (once per account and day)."""
    from pipeline.digest import deliver_digest as deliver

    deliver(current_app(), account, date.fromisoformat(day), destination="inbox", force=False)


ACTORS = {
    a.actor_name: a
    for a in (
        create_draft,
        create_drafts,
        discard_draft,
        prep_meeting,
        sync_account,
        deliver_digest,
    )
}

"""Peer benchmark: draftmachine 0.1.0 against our GmailMailbox, ``python -m tests.bench gmail-peer``.

Both create the same 1,000 drafts (``$OUTREACH_BENCH_DRAFTS``) for fictional recipients at
example.org on a fresh ``GoogleEmulator`` each, under the enforced Gmail quota of 250 units
per second, and then run a SECOND time over the same rows. Reported per tool: drafts per
second, the HTTP 429 answers it got and whether it survived them (drafts created against
rows, exit code, errors), and the drafts in the mailbox after the second run.

draftmachine (a CSV + Markdown mail-merge CLI on PyPI, google-api-python-client) runs
unmodified, as a subprocess of its own venv (``~/.cache/outreach-bench/draftmachine-venv``,
made on first use, never a project dependency):

- ``HOME`` is a temporary directory holding ``~/.draftmachine/client_secret.json`` (an
  "installed" OAuth client) and ``~/.draftmachine/creds.json`` (an authorized-user token
  file carrying the emulator's refresh token and an expired access token, so draftmachine
  refreshes it at the emulator's ``/token`` and writes the new token back, as it would
  at Google);
- a ``sitecustomize.py`` on the subprocess's ``PYTHONPATH`` routes Google's hosts to the
  emulator as ``tests.emulators.google.RoutedHttp`` does: ``httplib2.Http`` (the API calls,
  ``proxy_info=None``) and ``requests.Session.request`` (google-auth's token refresh at load
  time) have ``https://gmail.googleapis.com``, ``https://www.googleapis.com`` and
  ``https://oauth2.googleapis.com`` rewritten to ``http://127.0.0.1:PORT``; any name lookup
  but the loopback's is refused, and the browser consent flow (draftmachine's fallback when
  the token is refused) fails at once instead of waiting for a browser.

Our side is ``gmail-drafts`` (tests/bench/google.py) with the production ledger
(``FileLedger``, as ``connectors.google_open`` opens it): a first run, then a second run
by a new ``GmailMailbox`` (a new process, in effect) over the same keys and ledger file,
and a third run over the same keys with an empty ledger (``OUTREACH_BENCH_PEER_LOST_LEDGER=0``
skips it).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from connectors._ledger import FileLedger
from connectors.gmail import GmailMailbox
from connectors.quota import GMAIL_UNITS_PER_SECOND, HEADROOM, TokenBucket
from pipeline.errors import OutreachError
from tests.emulators.google import GOOGLE_HOSTS, GoogleEmulator, LoggedRequest, authorized_http

ME = "me@example.org"
DRAFTMACHINE = "draftmachine==0.1.0"
DRAFTMACHINE_VENV = Path(
    os.environ.get(
        "OUTREACH_BENCH_DRAFTMACHINE_VENV",
        Path.home() / ".cache" / "outreach-bench" / "draftmachine-venv",
    )
)
RUN_TIMEOUT = float(os.environ.get("OUTREACH_BENCH_PEER_TIMEOUT", "150"))
"""Seconds one draftmachine run may take before it is stopped (the scenario stays short)."""

CLIENT_ID = "emulator-client.apps.googleusercontent.com"
CLIENT_SECRET = "emulator-secret"
SCOPES = ["https://www.googleapis.com/auth/gmail.compose"]
CREATE = "gmail.users.drafts.create"

_FIRST = ("Ines", "Marcus", "Yuki", "Fatima", "Oskar", "Leila", "Teodor", "Amara", "Noor", "Rafael")
_LAST = ("Andersen", "Mbeki", "Tanaka", "Quinn", "Varga", "Lindqvist", "Osei", "Moreau", "Patel")
_COMPANIES = ("Bluefin Logistics", "Tidewater Labs", "Meridian Health", "Copperleaf Energy")
_ROLES = ("product manager", "data engineer", "UX researcher", "analytics lead", "SRE")
_FIELDS = ("climate tech", "health data", "supply chains", "public-sector software")

SUBJECT = "{{first_name}}, could I ask you about {{company}}?"
BODY = """\
Hi {{first_name}},

I'm a few months into a switch towards {{field}}, and the way you describe your work as
{{role}} at {{company}} is much of why. Would you have 20 minutes for a call some time in
the next few weeks? I'd like to hear how the work looks from the inside, and what you
wish you had known when you started.

If the timing is bad, no worries at all, and thank you for reading this far.

Best,
Jordan
"""

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")

SITECUSTOMIZE = '''\
"""Benchmark-only: route Google's hosts to the local emulator (outreach-pipeline gmail-peer)."""
import os
import socket
import sys

_BASE = os.environ["OUTREACH_BENCH_EMULATOR"]
_HOSTS = tuple(os.environ["OUTREACH_BENCH_GOOGLE_HOSTS"].split())
_LOOPBACK = (None, "127.0.0.1", "localhost", "::1")


def _route(uri):
    for host in _HOSTS:
        if isinstance(uri, str) and uri.startswith(host):
            return _BASE + uri[len(host):]
    return uri


_getaddrinfo = socket.getaddrinfo


def _loopback_only(host, *args, **kwargs):
    if host not in _LOOPBACK:
        sys.stderr.write(f"bench: refused name lookup of {host}\\n")
        raise socket.gaierror(socket.EAI_NONAME, f"the benchmark must not reach {host}")
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only

import httplib2  # noqa: E402


class _RoutedHttp(httplib2.Http):
    def __init__(self, *args, **kwargs):
        kwargs["proxy_info"] = None
        super().__init__(*args, **kwargs)

    def request(self, uri, *args, **kwargs):
        return super().request(_route(uri), *args, **kwargs)


httplib2.Http = _RoutedHttp

try:
    import requests

    _session_request = requests.Session.request

    def _routed_request(self, method, url, *args, **kwargs):
        return _session_request(self, method, _route(url), *args, **kwargs)

    requests.Session.request = _routed_request
except ImportError:
    pass

try:
    from google_auth_oauthlib.flow import InstalledAppFlow

    def _no_browser(self, *args, **kwargs):
        raise RuntimeError("bench: the stored token was refused; no browser consent here")

    InstalledAppFlow.run_local_server = _no_browser
except ImportError:
    pass
'''


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the rows, the template and what each tool gets ------------------------------------------


def rows(count: int) -> list[dict[str, str]]:
    """``count`` fictional contacts at example.org (the same for both tools)."""
    found = []
    for n in range(count):
        first = _FIRST[n % len(_FIRST)]
        last = _LAST[(n // len(_FIRST)) % len(_LAST)]
        found.append(
            {
                "email": f"{first.lower()}.{last.lower()}.{n:04d}@example.org",
                "first_name": first,
                "last_name": last,
                "company": _COMPANIES[n % len(_COMPANIES)],
                "role": _ROLES[n % len(_ROLES)],
                "field": _FIELDS[n % len(_FIELDS)],
            }
        )
    return found


def render(template: str, row: Mapping[str, str]) -> str:
    """``{{column}}`` placeholders filled from ``row`` (what draftmachine's Jinja does here)."""
    return _PLACEHOLDER.sub(lambda m: row[m.group(1)], template)


def template_markdown() -> str:
    """draftmachine's template: YAML front matter with the subject, then the body."""
    return f"---\nsubject: {json.dumps(SUBJECT)}\n---\n\n{BODY}"


def write_csv(path: Path, contacts: Sequence[Mapping[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(contacts[0]))
        writer.writeheader()
        writer.writerows(contacts)


def our_message(row: Mapping[str, str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = ME
    message["To"] = row["email"]
    message["Subject"] = render(SUBJECT, row)
    message.set_content(render(BODY, row))
    return message


def our_key(row: Mapping[str, str]) -> str:
    return f"peer:{row['email']}:outreach:1"


def token_files(home: Path, refresh_token: str) -> None:
    """draftmachine's ``~/.draftmachine``: an OAuth client and a stored, expired token."""
    folder = home / ".draftmachine"
    folder.mkdir(parents=True, exist_ok=True)
    token_uri = "https://oauth2.googleapis.com/token"
    client = {
        "installed": {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "redirect_uris": ["http://localhost"],
        }
    }
    (folder / "client_secret.json").write_text(json.dumps(client))
    stored = {
        "token": "ya29.expired-before-the-benchmark",
        "refresh_token": refresh_token,
        "token_uri": token_uri,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": SCOPES,
        "expiry": "2000-01-01T00:00:00Z",
    }
    (folder / "creds.json").write_text(json.dumps(stored))


# -- figures from the emulator's log ---------------------------------------------------------


def figures(log_slice: Sequence[LoggedRequest], created: int, rows: int) -> dict[str, Any]:
    """Rate and 429s of one run: the span from its first to its last API request
    (``rows_per_second``: rows handled, created or found already there)."""
    api = [r for r in log_slice if r.batch is None and r.method_name != "oauth.token"]
    span = (api[-1].at - api[0].at) if len(api) > 1 else 0.0
    return {
        "api_seconds": round(span, 2),
        "drafts_per_second": round(created / span, 2) if span > 0 else None,
        "rows_per_second": round(rows / span, 2) if span > 0 else None,
        "requests": len(api),
        "drafts_create_requests": sum(1 for r in log_slice if r.method_name == CREATE),
        "http_429": sum(1 for r in log_slice if r.status == 429),
        "units": sum(r.units for r in log_slice),
    }


# -- draftmachine ----------------------------------------------------------------------------


def draftmachine_venv() -> Path:
    """The benchmark's own venv with draftmachine 0.1.0 (made on first use)."""
    python = DRAFTMACHINE_VENV / "bin" / "python"
    if (DRAFTMACHINE_VENV / "bin" / "draftmachine").exists():
        check = subprocess.run(
            [str(python), "-c", "import draftmachine; print(draftmachine.__version__)"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode == 0 and check.stdout.strip() == "0.1.0":
            return DRAFTMACHINE_VENV
    log(f"creating {DRAFTMACHINE_VENV} with {DRAFTMACHINE}")
    shutil.rmtree(DRAFTMACHINE_VENV, ignore_errors=True)
    DRAFTMACHINE_VENV.parent.mkdir(parents=True, exist_ok=True)
    python3 = shutil.which("python3") or sys.executable
    made = subprocess.run(
        [python3, "-m", "venv", str(DRAFTMACHINE_VENV)], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        raise RuntimeError(f"python3 -m venv failed: {made.stderr.strip()[-1000:]}")
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", DRAFTMACHINE],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        shutil.rmtree(DRAFTMACHINE_VENV, ignore_errors=True)
        raise RuntimeError(f"pip install {DRAFTMACHINE} failed: {done.stderr.strip()[-1000:]}")
    return DRAFTMACHINE_VENV


def _draftmachine_run(
    venv: Path, directory: Path, emulator: GoogleEmulator, count: int, label: str
) -> dict[str, Any]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        and k not in ("PYTHONHOME", "VIRTUAL_ENV")
    }
    env.update(
        HOME=str(directory / "home"),
        PYTHONPATH=str(directory / "site"),
        PYTHONIOENCODING="utf-8",
        PYTHONUNBUFFERED="1",
        BROWSER="true",
        OUTREACH_BENCH_EMULATOR=emulator.url,
        OUTREACH_BENCH_GOOGLE_HOSTS=" ".join(GOOGLE_HOSTS),
    )
    before = len(emulator.requests)
    drafts_before = len(emulator.draft_ids())
    command = [
        str(venv / "bin" / "draftmachine"),
        "send",
        str(directory / "contacts.csv"),
        str(directory / "template.md"),
    ]
    started = time.perf_counter()
    with (
        (directory / f"{label}.out").open("w+") as out,
        (directory / f"{label}.err").open("w+") as err,
    ):
        proc = subprocess.Popen(
            command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=directory
        )
        timed_out = False
        while True:
            try:
                proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                made = len(emulator.draft_ids()) - drafts_before
                log(f"gmail-peer: draftmachine {label}: {made} drafts so far")
                if time.perf_counter() - started > RUN_TIMEOUT:
                    timed_out = True
                    proc.kill()
                    proc.wait()
                    break
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    created = len(emulator.draft_ids()) - drafts_before
    result: dict[str, Any] = {
        "exit_code": proc.returncode,
        "timed_out": timed_out,
        "drafts_created": created,
        "wall_seconds": round(wall, 2),
        **figures(emulator.requests[before:], created, count),
        "token_refreshes": sum(
            1 for r in emulator.requests[before:] if r.method_name == "oauth.token"
        ),
        "stdout_tail": stdout.strip().splitlines()[-1:] if stdout.strip() else [],
    }
    if proc.returncode != 0 or timed_out:
        result["errors"] = [line for line in stderr.strip().splitlines() if line.strip()][-4:]
    refused = [line for line in stderr.splitlines() if "refused name lookup" in line]
    if refused:
        result["refused_lookups"] = refused[:5]
    return result


def draftmachine_side(contacts: Sequence[Mapping[str, str]], rate: float) -> dict[str, Any]:
    try:
        venv = draftmachine_venv()
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        return {"error": f"draftmachine could not be installed: {err}"}
    with (
        tempfile.TemporaryDirectory(prefix="gmail-peer-") as tmp,
        GoogleEmulator(ME, units_per_second=rate) as emulator,
    ):
        directory = Path(tmp)
        (directory / "site").mkdir()
        (directory / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        write_csv(directory / "contacts.csv", contacts)
        (directory / "template.md").write_text(template_markdown())
        token_files(directory / "home", next(iter(emulator.refresh_tokens)))
        log(f"gmail-peer: draftmachine first run over {len(contacts)} rows")
        first = _draftmachine_run(venv, directory, emulator, len(contacts), "first")
        first["survived_429s"] = first["exit_code"] == 0 and first["drafts_created"] == len(
            contacts
        )
        log(f"gmail-peer: draftmachine first run: {first['drafts_created']} drafts")
        log("gmail-peer: draftmachine second run over the same rows")
        second = _draftmachine_run(venv, directory, emulator, len(contacts), "second")
        total = len(emulator.draft_ids())
        log(f"gmail-peer: draftmachine second run: {total} drafts in the mailbox")
        return {
            "version": "0.1.0",
            "rows": len(contacts),
            "first_run": first,
            "second_run": second,
            "drafts_after_second_run": total,
            "duplicates_after_second_run": max(0, total - len(contacts)),
        }


# -- ours ------------------------------------------------------------------------------------


def _our_run(
    emulator: GoogleEmulator,
    contacts: Sequence[Mapping[str, str]],
    ledger_path: Path,
    rate: float,
    label: str,
) -> dict[str, Any]:
    """One run as a process would make it: its own mailbox, bucket and HTTP, the ledger file."""
    bucket = TokenBucket(rate * HEADROOM)
    box = GmailMailbox(ME, authorized_http(emulator), ledger=FileLedger(ledger_path), quota=bucket)
    before = len(emulator.requests)
    drafts_before = len(emulator.draft_ids())
    failures = 0
    errors: list[str] = []
    started = time.perf_counter()
    for n, row in enumerate(contacts, 1):
        try:
            box.create_draft(our_message(row), our_key(row), None)
        except OutreachError as err:
            failures += 1
            if len(errors) < 3:
                errors.append(f"{type(err).__name__}: {err}")
        if n % 250 == 0:
            log(f"gmail-peer: ours {label}: {n}/{len(contacts)}")
    wall = time.perf_counter() - started
    box.close()
    created = len(emulator.draft_ids()) - drafts_before
    return {
        "drafts_created": created,
        "failures": failures,
        "errors": errors,
        "wall_seconds": round(wall, 2),
        **figures(emulator.requests[before:], created, len(contacts)),
        "waited_in_bucket_s": round(bucket.waited, 2),
    }


def our_side(contacts: Sequence[Mapping[str, str]], rate: float) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="gmail-peer-ours-") as tmp,
        GoogleEmulator(ME, units_per_second=rate) as emulator,
    ):
        ledger = Path(tmp) / "state" / "gmail-bench-drafts.json"
        log(f"gmail-peer: ours, first run over {len(contacts)} rows")
        first = _our_run(emulator, contacts, ledger, rate, "first run")
        first["survived_429s"] = first["failures"] == 0 and first["drafts_created"] == len(contacts)
        log("gmail-peer: ours, second run with the same keys (new mailbox, same ledger file)")
        second = _our_run(emulator, contacts, ledger, rate, "second run")
        total = len(emulator.draft_ids())
        log(f"gmail-peer: ours, second run: {total} drafts in the mailbox")
        result: dict[str, Any] = {
            "ledger": "FileLedger (as connectors.google_open opens it)",
            "rows": len(contacts),
            "first_run": first,
            "second_run": second,
            "drafts_after_second_run": total,
            "duplicates_after_second_run": max(0, total - len(contacts)),
        }
        if os.environ.get("OUTREACH_BENCH_PEER_LOST_LEDGER", "1") != "0":
            # a third run whose ledger file is gone (another machine, a new workspace): the
            # drafts are found again by their Message-ID alone
            log("gmail-peer: ours, third run with the same keys and an empty ledger")
            lost = Path(tmp) / "lost" / "gmail-bench-drafts.json"
            result["third_run_ledger_lost"] = _our_run(emulator, contacts, lost, rate, "third run")
            result["drafts_after_third_run"] = len(emulator.draft_ids())
        return result


def gmail_peer(count: int | None = None) -> dict[str, Any]:
    count = count or int(os.environ.get("OUTREACH_BENCH_DRAFTS", "1000"))
    rate = GMAIL_UNITS_PER_SECOND
    contacts = rows(count)
    started = time.perf_counter()
    peer = draftmachine_side(contacts, rate)
    ours = our_side(contacts, rate)
    result: dict[str, Any] = {
        "rows": count,
        "quota_units_per_second": rate,
        "draftmachine": peer,
        "outreach": ours,
    }
    peer_rate = (peer.get("first_run") or {}).get("drafts_per_second")
    our_rate = ours["first_run"]["drafts_per_second"]
    if peer_rate and our_rate:
        result["outreach_to_draftmachine_rate"] = round(our_rate / peer_rate, 3)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {"gmail-peer": gmail_peer}

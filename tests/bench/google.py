"""Benchmarks of the Gmail connector on the emulator: ``python -m tests.bench gmail-idle``.

- ``gmail-idle``: one ``changes()`` when nothing happened (target: one request, 2 units).
- ``gmail-incremental``: a tick's mail reading after 500 new messages: ``changes()`` and
  then ``fetch_raw()`` of the inbound ones in the sync's batches (``tick_requests``,
  bodies included; target: 1 history page + ceil(500/50) batches = 11).
- ``gmail-drafts``: 1,000 drafts (``$OUTREACH_BENCH_DRAFTS``) under an enforced 250 units
  per second and 15,000 per minute, the connector pacing itself with its own bucket: the rate reached against
  the quota-limited rate (250 / units spent per draft), and the failures (429s seen,
  errors raised).
"""

from __future__ import annotations

import math
import os
import time
from email.message import EmailMessage
from typing import Any

from connectors.base import MailChangeKind
from connectors.gmail import GmailMailbox
from connectors.quota import GMAIL_UNITS_PER_SECOND, HEADROOM, TokenBucket, Unlimited
from pipeline.errors import OutreachError
from pipeline.sync import INBOUND_BATCH
from tests.emulators.google import GoogleEmulator, authorized_http

ME = "me@example.org"


def inbound_message(n: int, me: str = ME) -> bytes:
    """The n-th new message a benchmark puts in ``me``'s inbox."""
    return (
        f"From: sender{n}@example.com\r\nTo: {me}\r\nSubject: message {n}\r\n"
        f"Message-ID: <bench-{n}@example.com>\r\n\r\nBody of message {n}.\r\n"
    ).encode()


def draft_message(n: int, me: str = ME) -> EmailMessage:
    """The n-th first outreach a benchmark drafts from ``me``."""
    message = EmailMessage()
    message["From"] = me
    message["To"] = f"contact{n}@example.com"
    message["Subject"] = f"Informational interview {n}?"
    message.set_content("Would you have 20 minutes for a chat?")
    return message


def gmail_idle() -> dict[str, Any]:
    with GoogleEmulator(ME) as emulator:
        box = GmailMailbox(ME, authorized_http(emulator), quota=Unlimited())
        _, cursor = box.changes(None)
        emulator.clear_log()
        started = time.perf_counter()
        changes, _ = box.changes(cursor)
        seconds = time.perf_counter() - started
        box.close()
        return {
            "requests": len(emulator.api_requests()),
            "units": emulator.units(),
            "changes": len(changes),
            "target_requests": 1,
            "ms": round(seconds * 1000, 2),
        }


def gmail_incremental(messages: int = 500) -> dict[str, Any]:
    with GoogleEmulator(ME) as emulator:
        box = GmailMailbox(ME, authorized_http(emulator), quota=Unlimited())
        _, cursor = box.changes(None)
        for n in range(messages):
            emulator.receive(inbound_message(n))
        emulator.clear_log()
        started = time.perf_counter()
        changes, _ = box.changes(cursor)
        changes_requests = len(emulator.api_requests())
        inbound = [c.provider_id for c in changes if c.kind is MailChangeKind.INBOUND]
        bodies = 0
        for start in range(0, len(inbound), INBOUND_BATCH):  # as pipeline.sync asks
            bodies += len(box.fetch_raw(inbound[start : start + INBOUND_BATCH]))
        seconds = time.perf_counter() - started
        box.close()
        requests = emulator.api_requests()
        pages = sum(1 for r in requests if r.method_name == "gmail.users.history.list")
        batches = [r for r in requests if r.method_name == "gmail.batch"]
        largest = max(
            (
                sum(1 for c in emulator.calls() if c.batch == b)
                for b in {c.batch for c in emulator.calls() if c.batch}
            ),
            default=0,
        )
        return {
            "messages": messages,
            "changes": len(changes),
            "bodies": bodies,
            "changes_requests": changes_requests,
            "tick_requests": len(requests),
            "requests": len(requests),
            "target_requests": math.ceil(messages / 50) + pages,
            "history_pages": pages,
            "batches": len(batches),
            "largest_batch": largest,
            "units": emulator.units(),
            "seconds": round(seconds, 3),
        }


def gmail_drafts(count: int | None = None) -> dict[str, Any]:
    count = count or int(os.environ.get("OUTREACH_BENCH_DRAFTS", "1000"))
    rate = GMAIL_UNITS_PER_SECOND
    with GoogleEmulator(ME, units_per_second=rate) as emulator:
        bucket = TokenBucket(rate * HEADROOM)
        box = GmailMailbox(ME, authorized_http(emulator), quota=bucket)
        failures = 0
        started = time.perf_counter()
        for n in range(count):
            try:
                box.create_draft(draft_message(n), f"bench:contact{n}:outreach:1", None)
            except OutreachError:
                failures += 1
        seconds = time.perf_counter() - started
        box.close()
        units = emulator.units()
        per_draft = units / count
        limited = rate / per_draft
        reached = count / seconds
        return {
            "drafts": count,
            "drafts_in_mailbox": len(emulator.drafts()),
            "seconds": round(seconds, 2),
            "rate_per_second": round(reached, 2),
            "quota_limited_rate": round(limited, 2),
            "rate_vs_quota": round(reached / limited, 3),
            "units_per_draft": round(per_draft, 2),
            "requests": len(emulator.api_requests()),
            "http_429": sum(1 for r in emulator.requests if r.status == 429),
            "failures": failures,
            "waited_in_bucket_s": round(bucket.waited, 2),
        }


SCENARIOS = {
    "gmail-idle": gmail_idle,
    "gmail-incremental": gmail_incremental,
    "gmail-drafts": gmail_drafts,
}

"""Benchmarks of the Outlook connector on the Graph emulator: ``python -m tests.bench
outlook-idle``.

- ``outlook-idle``: the requests of a tick when nothing happened, mail and calendar
  together (goal: at most one per folder; one $batch for the mail folders).
- ``outlook-incremental``: the requests to read 500 new messages (their changes and their
  raw MIME).
- ``outlook-drafts``: 1,000 drafts (``$OUTREACH_BENCH_DRAFTS``) under the emulator's
  enforced limits (4 requests at once, 10,000 per 10 minutes), the connector pacing itself
  with its own bucket: ``drafts_per_second`` against ``limit_drafts_per_second`` (the rate
  the request limit allows for the requests each draft needs), failures, duplicates, and
  what a second run over the same keys creates (nothing).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

from connectors._graph_http import GRAPH_REQUESTS_PER_SECOND
from connectors.outlook import OutlookCalendar, OutlookMailbox
from connectors.quota import HEADROOM, TokenBucket
from pipeline.errors import OutreachError
from tests.bench.google import draft_message, inbound_message
from tests.emulators.graph import GraphEmulator, graph_client, loopback_only

ME = "ada@uni.example.edu"


def outlook_idle() -> dict[str, Any]:
    with loopback_only(), GraphEmulator(ME) as graph:
        client = graph_client(graph)
        box, calendar = OutlookMailbox(ME, client), OutlookCalendar(client)
        _, mail_cursor = box.changes(None)
        _, calendar_cursor = calendar.changes(None)
        graph.clear_log()
        started = time.perf_counter()
        changes = box.changes(mail_cursor)[0] + calendar.changes(calendar_cursor)[0]
        seconds = time.perf_counter() - started
        return {
            "requests": len(graph.graph_requests()),
            "calls_inside": len(graph.graph_calls()),
            "changes": len(changes),
            "target_requests": 2,
            "ms": round(seconds * 1000, 2),
        }


def outlook_incremental(messages: int = 500) -> dict[str, Any]:
    with loopback_only(), GraphEmulator(ME) as graph:
        box = OutlookMailbox(ME, graph_client(graph))
        _, cursor = box.changes(None)
        for n in range(messages):
            graph.receive(inbound_message(n, ME))
        graph.clear_log()
        started = time.perf_counter()
        changes, _ = box.changes(cursor)
        for_changes = len(graph.graph_requests())
        raw = box.fetch_raw([c.provider_id for c in changes])
        seconds = time.perf_counter() - started
        return {
            "messages": messages,
            "changes": len(changes),
            "raw_fetched": len(raw),
            "requests_for_changes": for_changes,
            "requests": len(graph.graph_requests()),
            "seconds": round(seconds, 3),
        }


def outlook_drafts(count: int | None = None) -> dict[str, Any]:
    count = count or int(os.environ.get("OUTREACH_BENCH_DRAFTS", "1000"))
    with loopback_only(), GraphEmulator(ME) as graph:
        client = graph_client(graph)
        client.quota = TokenBucket(GRAPH_REQUESTS_PER_SECOND * HEADROOM)
        box = OutlookMailbox(ME, client)
        box.changes(None)
        graph.clear_log()
        failures = 0
        started = time.perf_counter()
        for n in range(count):
            try:
                box.create_draft(draft_message(n, ME), f"bench:contact{n}:outreach:1", None)
            except OutreachError:
                failures += 1
        seconds = time.perf_counter() - started
        requests = len(graph.graph_requests())
        per_draft = requests / count
        limit = GRAPH_REQUESTS_PER_SECOND / per_draft
        keys = Counter(str(m["X-Outreach-Key"]) for m in graph.folder("drafts"))
        graph.clear_log()
        for n in range(count):  # a second run over the same keys creates nothing
            box.create_draft(draft_message(n, ME), f"bench:contact{n}:outreach:1", None)
        again = Counter(str(m["X-Outreach-Key"]) for m in graph.folder("drafts"))
        reached = count / seconds
        return {
            "drafts": count,
            "drafts_in_mailbox": sum(keys.values()),
            "seconds": round(seconds, 2),
            "drafts_per_second": round(reached, 2),
            "limit_drafts_per_second": round(limit, 2),
            "rate_vs_limit": round(reached / limit, 3),
            "requests_per_draft": round(per_draft, 2),
            "http_429": sum(1 for r in graph.requests if r.status == 429),
            "failures": failures,
            "duplicates": sum(n - 1 for n in keys.values() if n > 1),
            "second_run_created": sum(again.values()) - sum(keys.values()),
        }


SCENARIOS = {
    "outlook-idle": outlook_idle,
    "outlook-incremental": outlook_incremental,
    "outlook-drafts": outlook_drafts,
}

"""A worker process for the fault-injection test: `python -m tests.workerproc`.

It is `dramatiq workers.actors` in one process with two test-side changes: short retry
backoffs, and a mailbox that fails with TransientError on a share of its calls
(OUTREACH_TEST_FAULT_RATE), half of them AFTER the draft was made, as when a response is
lost on the way back. `outreach worker` cannot be given such a mailbox, which is why this
stand-in exists; every other exactly-once test runs the real `outreach worker`.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from dramatiq import Worker

from connectors.base import DraftRef, Mailbox, ThreadRef
from pipeline.app import bootstrap
from pipeline.connect import open_mailbox
from pipeline.errors import TransientError
from pipeline.settings import AccountSettings, load_settings, workspace_dir
from workers.broker import configure, setup_broker


class FlakyMailbox:
    """Delegates to a real mailbox, failing a share of create_draft calls."""

    def __init__(self, inner: Mailbox, rate: float, seed: int) -> None:
        self.inner = inner
        self.rate = rate
        self.random = random.Random(seed)
        self.lock = threading.Lock()

    def _roll(self) -> float:
        with self.lock:
            return self.random.random()

    @property
    def address(self) -> str:
        return self.inner.address

    def changes(self, cursor: str | None) -> Any:
        return self.inner.changes(cursor)

    def fetch_raw(self, provider_ids: Any) -> Any:
        return self.inner.fetch_raw(provider_ids)

    def find_draft(self, key: str) -> DraftRef | None:
        return self.inner.find_draft(key)

    def deliver_to_self(self, message: EmailMessage) -> str:
        return self.inner.deliver_to_self(message)

    def discard_draft(self, key: str) -> bool:
        return self.inner.discard_draft(key)

    def create_draft(self, message: EmailMessage, key: str, thread: ThreadRef | None) -> DraftRef:
        roll = self._roll()
        if roll < self.rate / 2:
            raise TransientError("injected failure before the draft", retry_after=0.05)
        ref = self.inner.create_draft(message, key, thread)
        if roll < self.rate:
            raise TransientError("injected failure after the draft", retry_after=0.05)
        return ref


def main() -> None:
    broker = setup_broker()
    configure(broker, {"max_retries": 50, "min_backoff": 20, "max_backoff": 500})
    rate = float(os.environ.get("OUTREACH_TEST_FAULT_RATE", "0"))
    seed = int(os.environ.get("OUTREACH_TEST_SEED", "1"))

    def mailbox(account: AccountSettings, workspace: Path) -> Mailbox:
        return FlakyMailbox(open_mailbox(account, workspace), rate, seed)

    app = bootstrap(load_settings(workspace_dir()), mailbox_factory=mailbox)
    from workers import actors  # noqa: F401  (declares the actors on the broker)
    from workers.runtime import use_app

    use_app(app)
    broker.emit_after("process_boot")
    worker = Worker(broker, worker_threads=4, worker_timeout=100)
    worker.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("worker ready", flush=True)
    stop.wait()
    worker.stop()
    broker.close()


if __name__ == "__main__":
    main()

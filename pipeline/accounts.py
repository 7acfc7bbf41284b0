"""An account's condition, as the person is shown it: authorization withdrawn (the person
must act), or the mailbox unusable for now (each tick tries again)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from pipeline.app import App
from pipeline.bounds import storable_text
from pipeline.models import Account


def mark_needs_reauth(app: App, account: str, reason: str) -> None:
    """The provider refused our authorization: nothing of this account is tried again
    until the person authorizes it anew."""
    with app.store.write() as session:
        session.execute(
            update(Account)
            .where(Account.name == account)
            .values(needs_reauth=True, reauth_reason=storable_text(reason, 500))
        )


def mark_unavailable(app: App, account: str, reason: str, now: datetime) -> None:
    """The mailbox or calendar as a whole cannot be used now: its steps wait, the reason
    is shown once for the account, and the next tick tries again. Keeps the time the
    trouble began."""
    with app.store.write() as session:
        row = session.scalars(select(Account).where(Account.name == account)).one_or_none()
        if row is None:
            return
        row.unavailable_reason = storable_text(reason, 500)
        row.unavailable_since = row.unavailable_since or now

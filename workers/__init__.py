"""Dramatiq workers: the broker from OUTREACH_BROKER_URL, thin actors, the in-process drain.

Import ``workers.broker`` (or call ``workers.broker.setup_broker``) before ``workers.actors``:
the broker must be set before any actor is declared.
"""

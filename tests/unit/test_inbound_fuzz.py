"""understand() never raises: random bytes, and real messages with bytes changed."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.inbound import KINDS, understand
from tests import paths
from tests.bench.inbound import one_megabyte_messages

CORPUS = paths.CORPUS
SAMPLES = paths.SAMPLES / "inbound"
SEEDS = sorted(SAMPLES.glob("*.eml")) + sorted(
    p for p in CORPUS.rglob("*") if p.is_file() and "_expected" not in p.parts
)
SEED_BYTES = [p.read_bytes()[:20_000] for p in SEEDS]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    """Any bytes at all give a known kind and a reason."""
    result = understand(raw)
    assert result.kind in KINDS
    assert result.reason


@FUZZ
@given(
    st.sampled_from(SEED_BYTES),
    st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=8)), max_size=6),
    st.integers(min_value=0),
)
def test_mutated_messages_never_raise(
    seed: bytes, edits: list[tuple[int, bytes]], cut: int
) -> None:
    """Real messages with bytes replaced and a random truncation give a known kind."""
    raw = bytearray(seed)
    for position, chunk in edits:
        if raw:
            at = position % len(raw)
            raw[at : at + len(chunk)] = chunk
    data = bytes(raw[: (cut % (len(raw) + 1)) or None])
    assert understand(data, own_addresses=["me@example.edu"]).kind in KINDS


@FUZZ
@given(st.text(max_size=2000))
def test_random_text_bodies_never_raise(body: str) -> None:
    """Any text as the body of a plain message gives a known kind."""
    raw = b"From: a@example.com\r\nSubject: Re: hi\r\n\r\n" + body.encode("utf-8", "replace")
    assert understand(raw).kind in KINDS


def test_one_megabyte_messages_are_understood() -> None:
    """1 MB messages are understood (generous sanity bound; the benchmark measures)."""
    for raw in one_megabyte_messages().values():
        start = time.perf_counter()
        assert understand(raw).kind in KINDS
        assert time.perf_counter() - start < 5.0

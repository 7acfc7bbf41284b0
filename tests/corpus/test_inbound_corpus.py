"""Inbound understanding measured on the shared corpus of real mail (../shared/corpus).

Skipped with a visible reason when the corpus is absent (a user's machine); never skipped
when CI=true, where its absence is a failure.
"""

from __future__ import annotations

import os

import pytest

from pipeline.inbound import understand
from tests import paths
from tests.bench.inbound import (
    corpus_truth,
    inbound_corpus,
    sources,
    trimmer_cases,
)

CORPUS = paths.CORPUS
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="module", autouse=True)
def _corpus_present() -> None:
    if (CORPUS / "SOURCES.tsv").is_file():
        return
    if IN_CI:
        pytest.fail(f"the shared corpus is missing at {CORPUS} (CI must measure on it)")
    pytest.skip(f"shared corpus not found at {CORPUS}")


@pytest.fixture(scope="module")
def figures() -> dict[str, object]:
    return inbound_corpus()


def test_truth_covers_every_message_in_the_categories() -> None:
    """Every bounce, automatic reply, human reply and invitation has a ground truth."""
    files = {
        row["local_file"]
        for row in sources()
        if row["local_file"].split("/")[0]
        in {"bounce", "auto_reply", "human_reply", "invite_ics", "invite_email"}
    }
    assert files == set(corpus_truth())


def test_bounces_detected_with_the_right_recipients(figures: dict[str, object]) -> None:
    """At least 98% of bounces are bounces with exactly the failed recipients."""
    assert float(figures["bounce_accuracy"]) >= 0.98  # type: ignore[arg-type]


def test_reply_text_of_the_trimmer_set(figures: dict[str, object]) -> None:
    """At least 90% of the email_reply_trimmer set give exactly the expected new text."""
    assert float(figures["reply_trimmer_exact"]) >= 0.90  # type: ignore[arg-type]


@pytest.mark.parametrize("category", ["invite_ics", "invite_email"])
def test_every_invitation_has_the_right_utc_times(
    figures: dict[str, object], category: str
) -> None:
    """Every invitation is parsed with the right kind, method and UTC start and end."""
    assert figures[f"{category}_accuracy"] == 1.0


def test_no_automatic_mail_is_called_a_human_reply(figures: dict[str, object]) -> None:
    """Bounces, automatic replies and invitations are never human replies."""
    assert figures["automatic_called_human"] == 0


def test_no_human_reply_is_called_a_bounce(figures: dict[str, object]) -> None:
    """Human replies, including the two look-alikes in a bounce corpus, are not bounces."""
    assert figures["human_called_bounce"] == 0


def test_automatic_replies_and_their_return_dates(figures: dict[str, object]) -> None:
    """Every automatic reply is automatic mail, with the stated return date when there is one."""
    assert figures["auto_reply_accuracy"] == 1.0


def test_trimmer_cases_are_all_found() -> None:
    """The email_reply_trimmer set has its 64 messages and expected texts."""
    assert len(trimmer_cases()) == 64


def test_every_corpus_file_is_understood_without_raising() -> None:
    """understand() returns a known kind for every file of the corpus, whatever it holds."""
    kinds = {
        understand(path.read_bytes()).kind
        for path in sorted(CORPUS.rglob("*"))
        if path.is_file() and "_expected" not in path.parts
    }
    assert kinds <= {
        "human_reply",
        "auto_reply",
        "bounce",
        "meeting_invite",
        "meeting_reply",
        "meeting_cancel",
        "other",
    }

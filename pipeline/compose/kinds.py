"""Which message kinds a contact gets: the first outreach that fits them, and every kind a
contact may receive (what `templates check` renders)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.compose.fields import _is_blank

#: Templates in templates/ that are not message kinds.
NON_MESSAGE_TEMPLATES = frozenset({"prep_notes", "digest"})

#: Kinds whose shipped template answers in the existing thread ("Re: " + original subject).
REPLY_KINDS = frozenset({"nudge_1", "nudge_2", "scheduling_reply", "thanks_anyway"})

_ALUMNI_WORDS = ("alumni", "alumnus", "alumna", "alum")


def first_outreach_kind(contact: Mapping[str, Any], *, referrer_is_contact: bool = False) -> str:
    """The template for the first message to ``contact``.

    ``referral_outreach`` when someone the person already met introduced them
    (``referrer_is_contact``), ``first_referred`` when ``referred_by`` names someone,
    ``first_alumni`` when the contact is tagged as an alumnus or was found through an alumni
    listing, else ``first_cold``.
    """
    if referrer_is_contact:
        return "referral_outreach"
    if not _is_blank(contact.get("referred_by")):
        return "first_referred"
    tags = [str(tag).strip().lower() for tag in contact.get("tags") or ()]
    how_found = str(contact.get("how_found") or "").lower()
    if any(tag in _ALUMNI_WORDS for tag in tags) or any(w in how_found for w in _ALUMNI_WORDS):
        return "first_alumni"
    return "first_cold"


def kinds_for_contact(
    contact: Mapping[str, Any], *, referrer_is_contact: bool = False, is_referrer: bool = False
) -> list[str]:
    """Every template a contact could receive over an outreach (for ``templates check``).

    Message kinds, then ``prep_notes``; ``referrer_note`` only for someone who introduced
    another contact (``is_referrer``).
    """
    kinds = [first_outreach_kind(contact, referrer_is_contact=referrer_is_contact)]
    kinds += ["nudge_1", "nudge_2", "scheduling_reply", "thank_you", "thanks_anyway"]
    kinds += ["keep_in_touch"] + (["referrer_note"] if is_referrer else []) + ["prep_notes"]
    return kinds

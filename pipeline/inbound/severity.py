"""Hard or soft: what a bounce says about the address, from status codes and words.

``hard`` only when the address itself is bad (unknown user or host, moved): a permanent
failure (5.x.x) by default. A full mailbox (5.2.2, quota), a message too large (5.2.3,
5.3.4), an expired or timed-out delivery (5.4.7), a rate or connection limit, and any
temporary failure (4.x.x) are ``soft``. So is a policy rejection (5.7.x: spam or content
filter, DMARC or SPF, access denied) unless its words say the address is bad: it blames
the message or the sender's domain, and a hard bounce would suppress a good address for
every future outreach. A relay refused by the recipient's server is hard (the domain does
not take mail there).
"""

from __future__ import annotations

import re
from typing import Literal

BounceType = Literal["hard", "soft"]

STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
SMTP = re.compile(r"(?<!\d)([45])\d\d(?=[ -])")
FULL = re.compile(
    r"mailbox (?:is )?full|over ?quota|quota\s+exceeded|exceeded (?:the )?(?:storage|quota)|"
    r"exceed(?:s|ed)?\s+(?:the\s+)?(?:mailbox\s+)?quota|"
    r"mailbox exceeded|exceeded the local limit|mailbox has exceeded|"
    r"insufficient (?:system )?storage|mailbox size limit|disk quota|mailfolder is full|"
    r"quota violation|mailbox exceeds|reached (?:its|the|disk) (?:quota|limit)",
    re.IGNORECASE,
)
# Transient for our purpose although often sent as 5.x.x: the message, not the address.
TRANSIENT = re.compile(
    r"too large|too big|message size|size limit|exceeds? (?:the )?(?:maximum|size)|"
    r"exceeded maximum (?:inbound )?message size|message length exceeds|"
    r"rate limit|frequency limit|too many (?:connections|messages|recipients|concurrent)|"
    r"connection limit|sending limit|try again later|has been postponed|"
    r"will (?:continue to )?(?:re)?try",
    re.IGNORECASE,
)
# Delivery attempts that ran out of time: transient, unless the notice calls it permanent
# (a domain that never answers, "failed permanently").
GAVE_UP = re.compile(
    r"timed? ?out|retry time(?:out)? (?:exceeded|reached)|delivery time expired|expired|"
    r"could not be delivered within|gave up after|too long in (?:the )?queue",
    re.IGNORECASE,
)
PERMANENT = re.compile(r"permanent(?:ly)?\b", re.IGNORECASE)
SOFT_WORDS = re.compile(
    r"delayed|will (?:be )?retr|still (?:being )?retried|not yet been delivered|"
    r"temporar(?:y|ily)|try again later|deferred|postponed|will continue to try",
    re.IGNORECASE,
)
HARD_WORDS = re.compile(
    r"user unknown|unknown user|no such user|does not exist|doesn't exist|"
    r"address rejected|recipient not found|not found|invalid (?:recipient|address|mailbox)|"
    r"mailbox unavailable|no mailbox|account (?:is )?disabled|no longer|unrouteable|"
    r"host or domain name not found|domain (?:name )?not found|not listed|unknown host|"
    r"host unknown|name is not recognized|no matches|unable to relay|"
    r"relay(?:ing)? (?:access )?denied|relaying (?:is )?not (?:allowed|permitted)",
    re.IGNORECASE,
)
TRANSIENT_STATUS = {("2", "2"), ("2", "3"), ("3", "4"), ("4", "7")}


def status_type(status: str, words: str) -> BounceType | None:
    """hard or soft for one enhanced status code and the words said about it, or None."""
    match = STATUS.search(status)
    if not match:
        return None
    klass, subject, detail = match.groups()
    if klass == "2":
        return None  # a success code, or a version number ("Mailman 2.0.12")
    if klass == "4" or (subject, detail) in TRANSIENT_STATUS:
        return "soft"
    if transient(words):
        return "soft"
    if subject == "7" and not HARD_WORDS.search(words):
        # A policy rejection (5.7.x: spam or content filter, DMARC or SPF, access denied
        # to the sender) blames our message or our domain, not the address: soft, so
        # the contact is not flagged nor their address suppressed for every future
        # outreach; the one retry of a soft bounce shows whether it holds.
        return "soft"
    return "hard"


def transient(words: str) -> bool:
    """Whether the words blame the message or the moment, not the address."""
    if HARD_WORDS.search(words):
        return False
    if FULL.search(words) or TRANSIENT.search(words):
        return True
    return bool(GAVE_UP.search(words)) and not PERMANENT.search(words)


def text_type(statuses: list[str], text: str, subject: str) -> BounceType:
    """The type of a notice without a report: its status codes, then its words."""
    kinds: list[BounceType] = [
        k for status in statuses if (k := status_type(status, text)) is not None
    ]
    if FULL.search(text):
        return "soft" if not ("hard" in kinds and HARD_WORDS.search(text)) else "hard"
    if kinds:
        return "hard" if "hard" in kinds else "soft"
    if transient(text) or (SOFT_WORDS.search(subject) and not HARD_WORDS.search(text)):
        return "soft"
    codes = [m.group(1) for m in SMTP.finditer(text)]
    if "5" in codes:
        return "hard"
    if "4" in codes or SOFT_WORDS.search(subject) or SOFT_WORDS.search(text):
        return "soft"
    return "hard"

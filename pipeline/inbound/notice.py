"""Failed recipients named in the text of a notice (no delivery-status report to read).

Structured mentions first ("<a@b>:", "Recipient: a@b", "a@b ... User unknown"), then the
summary's To, then any address the notice names; never one offered as help ("contact
postmaster@...", "try ... instead") nor one on the sender's side. Exim's "(generated from
a@b)" and sendmail's "(expanded from: a@b)" replace the forwarding address with the one the
sender wrote. A mailbox listed without a domain takes the domain of the reporting system.
X.400 addresses give their Internet address (``/RFC-822=a(a)b/``, ``dda:SMTP=a@b``).
"""

from __future__ import annotations

import re
from bisect import bisect_right

ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_IGNORED_LOCAL = re.compile(
    r"^(?:mailer-daemon|postmaster|mail-daemon|double-bounce|noreply|no-reply|abuse|"
    r"root|nobody)$",
    re.IGNORECASE,
)
_X400_RFC822 = re.compile(r"/RFC-?822=([^/]+)/", re.IGNORECASE)
_DDA_SMTP = re.compile(r"dda:SMTP=([^;\s]+)", re.IGNORECASE)


def internet_address(value: str) -> str | None:
    """The Internet address in a recipient field or notice: RFC 822, or inside X.400."""
    x400 = _X400_RFC822.search(value)
    if x400:
        value = x400.group(1).replace("(a)", "@")
    else:
        dda = _DDA_SMTP.search(value)
        if dda:
            value = dda.group(1)
    match = ADDRESS.search(value)
    if not match:
        return None
    return match.group(0).strip(".'\"").lower()


_ADDR = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_STRUCTURED = (
    re.compile(rf"^\s*<?({_ADDR})>?\s*:?\s*(?:<mailto:[^>]*>)?\s*$"),
    re.compile(rf"^\s*<({_ADDR})>\s*:"),
    re.compile(rf"^\s*({_ADDR})\s*:\s"),
    re.compile(rf"^\s*({_ADDR})\s+(?:on|\(|\[)"),
    re.compile(
        rf"\b(?:rcpt to|recipient|delivered to|deliver to|addressed(?: to)?,?|"
        rf"failed recipient|could not be delivered to|following address(?:es)?)\s*:?"
        rf"\s*<?({_ADDR})>?",
        re.IGNORECASE,
    ),
)
# "Your message / To: a@b / did not reach the following recipient(s): c@d": the summary's
# To counts only when nothing more precise is named.
_SUMMARY_TO = re.compile(rf"\bto:\s*<?({_ADDR})>?", re.IGNORECASE)
_SKIP_LINE = re.compile(
    r"\s*(?:message-id|from|reply-to|sender|>>> mail from|mail from|envelope-from|"
    r"return-path|received)\s*:",
    re.IGNORECASE,
)
# The notice's own help: "please contact postmaster@...", "try jane.doe@... instead".
_HELP_WORDS = re.compile(
    r"\bcontact(?:ing)?\b|\bwrite to\b|please (?:e-?mail|send|forward|write)|\btry\b|"
    r"\be\.g\.|for example|\bfinger\b|formerly|\binstead\b|\bquestions?\b|"
    r"\bif you (?:need|have|think|believe)|(?:mail|messages?) from\b",
    re.IGNORECASE,
)
_HELP_REACH = 60  # how far after its help words an address still belongs to them
_HELP_AFTER = re.compile(r"^\W{0,3}(?:instead|for (?:help|assistance|more information))", re.I)


def usable(address: str, excluded: set[str]) -> bool:
    local = address.split("@", 1)[0]
    if address in excluded or _IGNORED_LOCAL.match(local):
        return False
    return not (len(local) > 40 and re.fullmatch(r"[0-9a-f.\-]+", local))


def _helpful(line: str, help_ends: list[int], start: int, end: int) -> bool:
    """Whether the address at line[start:end] is offered as help, not named as failed:
    help words end shortly before it (no other address between), or follow it."""
    k = bisect_right(help_ends, start)
    if k and start - help_ends[k - 1] <= _HELP_REACH:
        between = line[help_ends[k - 1] : start]
        if "@" not in between and ". " not in between:  # same sentence, no other address
            return True
    return bool(end and _HELP_AFTER.match(line[end : end + 60]))


_RCPT_TO = re.compile(r"rcpt to:", re.IGNORECASE)
_GENERATED_FROM = re.compile(
    rf"^\s*\((?:generated|expanded) from:?\s*<?({_ADDR})>?\s*\)", re.IGNORECASE
)


def text_recipients(notice: str, excluded: set[str]) -> list[str]:
    """Failed recipients named in a plain-text notice, structured mentions first."""
    structured: list[str] = []
    summary: list[str] = []
    loose: list[str] = []
    seen_loose: set[str] = set()
    last: tuple[list[str], int] | None = None  # where the latest address was put
    excluded = set(excluded)  # grows by the forwarding addresses replaced below
    previous = ""
    for line in notice.splitlines():
        if not line or line.isspace():
            previous = ""  # a blank line ends the sentence
            continue
        if ("@" not in line and "=" not in line) or _SKIP_LINE.match(line):
            previous = line
            continue
        alias = _GENERATED_FROM.search(line)
        if alias and last is not None:
            # "x@forward.example (generated from a@b)": the address the sender wrote.
            found, index = last
            original = alias.group(1).lower()
            excluded.add(found[index])
            if original in found or not usable(original, excluded):
                del found[index]
            else:
                found[index] = original
            last = None
            previous = line
            continue
        line_last: tuple[list[str], int] | None = None
        context = f"{previous.strip()} "
        joined = context + line  # help words may end the line before
        help_ends = [m.end() for m in _HELP_WORDS.finditer(joined)]
        previous = line
        to_line = _SUMMARY_TO.search(line)
        if to_line and not _RCPT_TO.search(line):
            address = to_line.group(1).strip(".'\"").lower()
            if usable(address, excluded) and address not in summary:
                summary.append(address)
            continue
        if "=" in line and (x400 := internet_address(line)) and _DDA_OR_X400.search(line):
            if usable(x400, excluded) and x400 not in structured:
                structured.append(x400)
            continue
        for pattern in _STRUCTURED:
            match = pattern.search(line)
            if match:
                address = match.group(1).strip(".'\"").lower()
                if (
                    usable(address, excluded)
                    and address not in structured
                    and not _helpful(joined, help_ends, len(context) + match.start(1), 0)
                ):
                    structured.append(address)
                    line_last = (structured, len(structured) - 1)
                break
        for match in ADDRESS.finditer(line):
            token = line[line.rfind(" ", 0, match.start()) + 1 : match.start()]
            if "://" in token or _helpful(
                joined, help_ends, len(context) + match.start(), len(context) + match.end()
            ):
                continue
            address = match.group(0).strip(".'\"").lower()
            if address not in seen_loose and usable(address, excluded):
                seen_loose.add(address)
                loose.append(address)
                line_last = line_last or (loose, len(loose) - 1)
        last = line_last or last
    return structured or summary or loose


_DDA_OR_X400 = re.compile(r"dda:SMTP=|/RFC-?822=", re.IGNORECASE)


# "Your mail to the following recipients could not be delivered ...:" then "\tjdoe": a
# mailbox named without its domain, which is the domain of the system that reports it.
_RECIPIENTS_HEADING = re.compile(
    r"(?:deliver|recipient|address|reach).*\b(?:following|these)\b.*:\s*$|"
    r"\b(?:following|these)\s+(?:recipients?|addresse?s?|users?)\b.*:\s*$",
    re.IGNORECASE,
)
_LOCAL_PART = re.compile(
    r"^\s*(?:[>*-]\s*)?<?([A-Za-z][A-Za-z0-9._%+'-]{0,63})>?[:,]?(?:\s*$|\s{2,}|\t)"
)
_SECOND_LEVEL = {"ac", "co", "com", "ed", "edu", "go", "gov", "gv", "ne", "net", "or", "org"}


def _organisation_domain(host: str) -> str:
    """mr2.its.example.edu -> example.edu; mail.example.co.jp -> example.co.jp."""
    labels = host.lower().strip(".").split(".")
    keep = 3 if len(labels[-1]) == 2 and len(labels) >= 3 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def local_part_recipients(
    notice: str, reporter: str, originals: list[str], excluded: set[str]
) -> list[str]:
    """Mailboxes listed without a domain under a heading that announces failed recipients:
    the original message's address with that local part, else the local part at the
    domain of the mail system that sends the notice."""
    domain = reporter.rpartition("@")[2]
    domain = _organisation_domain(domain) if "." in domain else ""
    found: list[str] = []
    lines = notice.splitlines()
    for i, line in enumerate(lines[:400]):
        if not _RECIPIENTS_HEADING.search(line):
            continue
        for later in lines[i + 1 : i + 12]:
            if not later.strip():
                if found:
                    break
                continue
            match = _LOCAL_PART.match(later)
            if not match:
                break
            local = match.group(1).lower()
            known = [a for a in originals if a.partition("@")[0].lower() == local]
            address = known[0] if known else f"{local}@{domain}" if domain else ""
            if address and usable(address, excluded) and address not in found:
                found.append(address)
        if found:
            break
    return found

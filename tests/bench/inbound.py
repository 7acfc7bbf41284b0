"""Benchmarks of inbound understanding on the shared corpus and our own samples.

``python -m tests.bench inbound-corpus --json``: accuracy per category against the ground
truth (tests/samples/inbound/corpus_truth.json, the corpus's _expected/ files and
SOURCES.tsv), plus the safety counts and the time taken by a 1 MB message.
``python -m tests.bench inbound-throughput --json``: messages understood per second.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.inbound import Inbound, understand

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "tests" / "samples" / "inbound"
OOO = SAMPLES / "ooo"
TRUTH = SAMPLES / "corpus_truth.json"
MACHINE_KINDS = {"auto_reply", "bounce", "meeting_invite", "meeting_reply", "meeting_cancel"}


def corpus_present() -> bool:
    return (CORPUS / "SOURCES.tsv").is_file()


def corpus_truth() -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = json.loads(TRUTH.read_text(encoding="utf-8"))["files"]
    return files


def sample_expectations() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(
        (SAMPLES / "expected.json").read_text(encoding="utf-8")
    )
    return data


def sources() -> list[dict[str, str]]:
    with (CORPUS / "SOURCES.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def wrap_body(body: bytes, *, html: bool = False) -> bytes:
    """A bare body from the corpus as a message, so understand() sees what a client sends."""
    ctype = "text/html" if html else "text/plain"
    head = (
        "From: Someone <someone@example.com>\r\nTo: me@example.edu\r\nSubject: Re: hello\r\n"
        f"Content-Type: {ctype}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode() + body


def trimmer_cases() -> list[tuple[str, bytes, str]]:
    """(name, message, expected reply text) of the email_reply_trimmer set."""
    cases = []
    for path in sorted((CORPUS / "quoted_reply").glob("email_reply_trimmer__*.txt")):
        expected = (CORPUS / "_expected" / f"{path.name}.trimmed.txt").read_text(encoding="utf-8")
        cases.append((path.name, wrap_body(path.read_bytes()), expected))
    return cases


_STATED = re.compile(
    r"(?:replies\[0\]\.body ==|^1 reply; body|fragments\[0\] ==|getVisibleText\(\) ==)\s*"
    r"'((?:[^'\\]|\\.)*)'"
)


def stated_first_replies() -> list[tuple[bytes, str]]:
    """(message, first reply as its source project states it) of other quoted-reply sets."""
    found = []
    for row in sources():
        name = row["local_file"]
        if not name.startswith("quoted_reply/") or "email_reply_trimmer" in name:
            continue
        match = _STATED.search(row["expected_stated"])
        if match:
            text = match.group(1).replace("\\n", "\n").replace("\\'", "'")
            found.append((wrap_body((CORPUS / name).read_bytes()), text))
    return found


def _without_trailing_rule(text: str) -> str:
    """Some projects keep the "-----" line above a quote; this project drops it."""
    return re.sub(r"\n\s*-{5,}\s*$", "", text.strip())


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def sample_mismatches(name: str, expected: dict[str, Any], result: Inbound) -> list[str]:
    """The fields of one of our samples that differ from its expected output."""
    got = result.to_json()
    wrong = []
    for key, value in expected.items():
        if key == "own":
            continue
        actual: Any = got.get(key)
        if key == "bounce" and result.bounce is not None and isinstance(value, dict):
            actual = dict(got["bounce"])
            if "original_message_id" in value:
                actual["original_message_id"] = result.bounce.original_message_id
        if actual != value:
            wrong.append(f"{name}: {key} expected {value!r}, got {actual!r}")
    return wrong


def _ratio(good: int, total: int) -> float:
    return round(good / total, 4) if total else 1.0


_BAD_ADDRESS_REASON = re.compile(r"reason=(?:userunknown|hostunknown|hasmoved|norelaying)")


def _expected_bounce_type(row: dict[str, str]) -> str | None:
    """hard/soft by the issue's rule, from what the source project states per recipient.

    Per recipient: a 4.x.x status, a full mailbox (5.2.2), a message too large (5.2.3,
    5.3.4), an expired or timed-out delivery (5.4.7), a rate or connection limit, or a
    policy rejection (5.7.x) whose stated reason is not a bad address is soft, any other
    5.x.x is hard; a message is hard when any recipient is.
    """
    stated = row["expected_stated"]
    if "bounce-soft" in row["label"] or "type=soft" in stated:
        return "soft"
    if "type=hard" in stated:
        return "hard"
    kinds = []
    for entry in stated.split("|"):
        status = re.search(r"(?:status|code)=([245])\.(\d+)\.(\d+)", entry)
        if not status:
            continue
        klass, subject, detail = status.groups()
        soft = (
            klass == "4"
            or (subject, detail) in {("2", "2"), ("2", "3"), ("3", "4"), ("4", "7")}
            or re.search(r"reason=(?:mailboxfull|expired|mesgtoobig|toomanyconn)", entry)
            is not None
            or (subject == "7" and not _BAD_ADDRESS_REASON.search(entry))
        )
        kinds.append("soft" if soft else "hard")
    if not kinds:
        return None
    return "hard" if "hard" in kinds else "soft"


def ooo_figures() -> dict[str, Any]:
    """Our 60 out-of-office samples: h01-h20 are kept untouched by rule changes (our own
    holdout), d21-d60 are the development set. Right = automatic reply with the right date."""
    expected: dict[str, dict[str, Any]] = json.loads(
        (OOO / "expected.json").read_text(encoding="utf-8")
    )
    oks: dict[str, list[bool]] = {"holdout": [], "dev": []}
    problems = []
    for name, wanted in sorted(expected.items()):
        got = understand((OOO / name).read_bytes()).to_json()
        ok = got["kind"] == wanted["kind"] and got["return_date"] == wanted["return_date"]
        oks["holdout" if name.startswith("h") else "dev"].append(ok)
        if not ok:
            problems.append(f"ooo/{name}: {got['kind']} {got['return_date']}")
    figures: dict[str, Any] = {}
    for part, results in oks.items():
        figures[f"ooo_{part}_return_date"] = _ratio(sum(results), len(results))
        figures[f"ooo_{part}_count"] = len(results)
    figures["ooo_problems"] = problems
    return figures


def one_megabyte_messages() -> dict[str, bytes]:
    """1 MB messages: a reply with a long quote, a bounce, random bytes, and bad shapes."""
    rng = random.Random(7)
    quote = "".join(f"> line {i} of the quoted history, {'x' * 40}\n" for i in range(20_000))
    reply = (
        "From: Lee <lee@example.com>\r\nTo: me@example.edu\r\nSubject: Re: hi\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHappy to talk on Tuesday.\r\n\r\n"
        "On Mon, Mar 3, 2025 at 9:12 AM Sam <me@example.edu> wrote:\r\n" + quote
    ).encode()[:1_048_576]
    noise = "".join(f"diagnostic {i}: 550 5.1.1 <user{i}@example.org> unknown\n" for i in range(1))
    bounce = (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: me@example.edu\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        "<lee@example.com>: host mx said: 550 5.1.1 User unknown\r\n"
        + noise
        + "Lorem ipsum dolor sit amet. " * 37_000
    ).encode()[:1_048_576]
    random_bytes = bytes(rng.getrandbits(8) for _ in range(1_048_576))
    head = bounce.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\ncould not be delivered.\r\n\r\n"
    # Shapes that once cost seconds: one line of addresses, runs of blank lines, a
    # delivery report with thousands of blocks, a read receipt with thousands of fields.
    addresses = head + " ".join(f"user{i}@example{i}.org" for i in range(60_000)).encode()
    blank = head + b"\n" * 300_000 + b" " * 300_000 + b"\n" * 300_000
    blocks = head + b"".join(
        b"Final-Recipient: rfc822; u%d@example.org\nAction: failed\nStatus: 5.1.1\n\n" % i
        for i in range(25_000)
    )
    receipt = (
        b"From: a@example.org\r\nTo: me@example.edu\r\nContent-Type: multipart/report; "
        b"report-type=disposition-notification; boundary=x\r\n\r\n--x\r\n"
        b"Content-Type: message/disposition-notification\r\n\r\n"
        + b"Disposition: automatic-action/MDN-sent-automatically; deleted\n" * 15_000
        + b"--x--\r\n"
    )
    return {
        "reply": reply,
        "bounce": bounce,
        "random": random_bytes,
        "bounce_one_line_of_addresses": addresses[:1_048_576],
        "bounce_blank_lines": blank[:1_048_576],
        "bounce_many_report_blocks": blocks[:1_048_576],
        "rejection_receipt": receipt[:1_048_576],
    }


def time_one_megabyte() -> dict[str, float]:
    """Milliseconds for understand() on each 1 MB message (best of three)."""
    timings = {}
    for name, raw in one_megabyte_messages().items():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            understand(raw)
            best = min(best, time.perf_counter() - start)
        timings[f"one_mb_{name}_ms"] = round(best * 1000, 1)
    return timings


def inbound_corpus() -> dict[str, Any]:
    """Accuracy per category of the shared corpus and of our own samples."""
    figures: dict[str, Any] = {}
    problems: list[str] = []
    if corpus_present():
        truth = corpus_truth()
        results = {key: understand((CORPUS / key).read_bytes()) for key in truth}
        by_category: dict[str, list[bool]] = {}
        for key, expected in truth.items():
            category = key.split("/", 1)[0]
            result = results[key]
            ok = result.kind == expected["kind"]
            if ok and category == "bounce" and result.bounce is not None:
                ok = sorted(result.bounce.recipients) == expected["recipients"]
            if ok and "start" in expected and result.meeting is not None:
                meeting = result.to_json()["meeting"]
                ok = (meeting["start"], meeting["end"]) == (expected["start"], expected["end"])
            if ok and "return_date" in expected:
                ok = result.to_json()["return_date"] == expected["return_date"]
            by_category.setdefault(category, []).append(ok)
            if not ok:
                problems.append(f"{key}: {result.kind} ({result.reason})")
        for category, oks in sorted(by_category.items()):
            figures[f"{category}_accuracy"] = _ratio(sum(oks), len(oks))
            figures[f"{category}_count"] = len(oks)
        typed = [
            (row["local_file"], _expected_bounce_type(row))
            for row in sources()
            if row["local_file"].startswith("bounce/")
        ]
        typed_ok = [
            results[f].bounce is not None and results[f].bounce.type == t  # type: ignore[union-attr]
            for f, t in typed
            if t is not None
        ]
        figures["bounce_type_accuracy"] = _ratio(sum(typed_ok), len(typed_ok))
        figures["bounce_type_count"] = len(typed_ok)
        figures["automatic_called_human"] = sum(
            1
            for key, r in results.items()
            if key.startswith(("auto_reply/", "bounce/", "invite_")) and r.kind == "human_reply"
        )
        figures["human_called_bounce"] = sum(
            1 for key, r in results.items() if key.startswith("human_reply/") and r.kind == "bounce"
        )
        cases = trimmer_cases()
        good = sum(
            1
            for _, raw, expected in cases
            if (understand(raw).reply_text or "").strip() == expected.strip()
        )
        figures["reply_trimmer_exact"] = _ratio(good, len(cases))
        figures["reply_trimmer_count"] = len(cases)
        html = sorted((CORPUS / "quoted_reply").glob("talon__html_*.html"))
        html_ok = sum(
            1
            for p in html
            if _norm(understand(wrap_body(p.read_bytes(), html=True)).reply_text)
            == _norm("Hi. I am fine.\n\nThanks,\nAlex")
        )
        figures["reply_talon_html"] = _ratio(html_ok, len(html))
        talon_eml = sorted((CORPUS / "human_reply").glob("talon__*.eml"))
        eml_ok = 0
        eml_total = 0
        for path in talon_eml:
            special = CORPUS / "_expected" / f"{path.name}.reply.txt"
            if "share-block" in path.name:
                continue
            expected_text = special.read_text(encoding="utf-8") if special.exists() else "Hello"
            eml_total += 1
            eml_ok += _norm(understand(path.read_bytes()).reply_text) == _norm(expected_text)
        figures["reply_talon_eml"] = _ratio(eml_ok, eml_total)
        stated = stated_first_replies()
        stated_ok = sum(
            1
            for raw, expected in stated
            if _norm(understand(raw).reply_text) == _norm(_without_trailing_rule(expected))
        )
        figures["reply_other_stated"] = _ratio(stated_ok, len(stated))
        figures["reply_other_stated_count"] = len(stated)
    else:
        figures["corpus"] = f"absent: {CORPUS}"
    samples = sample_expectations()
    sample_ok = 0
    for name, expected in samples.items():
        result = understand((SAMPLES / name).read_bytes(), own_addresses=expected.get("own", ()))
        wrong = sample_mismatches(name, expected, result)
        sample_ok += not wrong
        problems.extend(wrong)
    figures["own_samples_accuracy"] = _ratio(sample_ok, len(samples))
    figures["own_samples_count"] = len(samples)
    ooo = ooo_figures()
    problems.extend(ooo.pop("ooo_problems"))
    figures.update(ooo)
    figures.update(time_one_megabyte())
    figures["problems"] = problems
    return figures


def inbound_throughput() -> dict[str, Any]:
    """Messages understood per second over the corpus and our samples, on one core."""
    paths = sorted(SAMPLES.glob("*.eml")) + sorted(OOO.glob("*.eml"))
    if corpus_present():
        paths += [CORPUS / key for key in corpus_truth()]
    messages = [p.read_bytes() for p in paths]
    for raw in messages:  # warm up caches and compiled patterns
        understand(raw)
    rounds = 0
    start = time.perf_counter()
    cpu_start = time.process_time()
    while time.perf_counter() - start < float(os.environ.get("BENCH_SECONDS", "3")):
        for raw in messages:
            understand(raw)
        rounds += 1
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {
        "messages": len(messages),
        "rounds": rounds,
        "messages_per_second": round(rounds * len(messages) / elapsed, 1),
        # CPU time of this one-threaded process: per core, whatever else the machine runs.
        "messages_per_cpu_second": round(rounds * len(messages) / cpu, 1),
    }


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "inbound-corpus": inbound_corpus,
    "inbound-throughput": inbound_throughput,
}


def _library_dir() -> None:
    """Comparison libraries live outside the project: INBOUND_LIBS=dir (pip --target)."""
    import sys

    extra = os.environ.get("INBOUND_LIBS")
    if extra and extra not in sys.path:
        sys.path.append(extra)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def inbound_libraries() -> dict[str, Any]:
    """Our rules against mail-parser-reply, flufl.bounce and dateparser on the same data.

    Needs the corpus and the three libraries (``pip install --target DIR mail-parser-reply
    flufl.bounce dateparser``, then ``INBOUND_LIBS=DIR``); reports what it could not run.
    """
    _library_dir()
    if not corpus_present():
        return {"skipped": f"corpus absent: {CORPUS}"}
    figures: dict[str, Any] = {}
    cases = trimmer_cases()
    ours, t_ours = _timed(
        lambda: sum((understand(raw).reply_text or "").strip() == e.strip() for _, raw, e in cases)
    )
    figures["trimmer_exact_ours"] = _ratio(ours, len(cases))
    figures["trimmer_ms_per_message_ours"] = round(t_ours * 1000 / len(cases), 3)
    try:
        from mailparser_reply import EmailReplyParser  # type: ignore[import-not-found]

        parser = EmailReplyParser(languages=["en", "de", "fr", "es", "nl", "it", "pl", "sv"])
        bodies = [
            (p.read_text(encoding="utf-8", errors="replace"), e)
            for p, e in ((CORPUS / "quoted_reply" / name, expected) for name, _, expected in cases)
        ]
        theirs, t_theirs = _timed(
            lambda: sum((parser.parse_reply(text=b) or "").strip() == e.strip() for b, e in bodies)
        )
        figures["trimmer_exact_mail_parser_reply"] = _ratio(theirs, len(cases))
        figures["trimmer_ms_per_message_mail_parser_reply"] = round(t_theirs * 1000 / len(cases), 3)
    except ImportError as err:
        figures["mail_parser_reply"] = f"not installed ({err})"
    truth = {k: v for k, v in corpus_truth().items() if k.startswith("bounce/")}
    humans = [k for k in corpus_truth() if k.startswith("human_reply/")]
    mine = [
        sorted(understand((CORPUS / k).read_bytes()).bounce.recipients) == v["recipients"]  # type: ignore[union-attr]
        for k, v in truth.items()
    ]
    figures["bounce_recipients_ours"] = _ratio(sum(mine), len(mine))
    try:
        import email

        from flufl.bounce import all_failures  # type: ignore[import-not-found]

        def flufl(key: str) -> list[str]:
            msg = email.message_from_bytes((CORPUS / key).read_bytes())
            try:
                temporary, permanent = all_failures(msg)
            except Exception:
                return ["<error>"]
            found = {a.decode() if isinstance(a, bytes) else str(a) for a in temporary | permanent}
            return sorted(a.lower() for a in found)

        theirs_ok, t_flufl = _timed(lambda: [flufl(k) == v["recipients"] for k, v in truth.items()])
        figures["bounce_recipients_flufl"] = _ratio(sum(theirs_ok), len(theirs_ok))
        figures["bounce_ms_per_message_flufl"] = round(t_flufl * 1000 / len(truth), 3)
        figures["human_called_bounce_flufl"] = sum(1 for k in humans if flufl(k))
    except ImportError as err:
        figures["flufl_bounce"] = f"not installed ({err})"
    try:
        import warnings

        from dateparser.search import search_dates

        from pipeline.inbound.dates import return_date
        from pipeline.inbound.mime import bodies as text_and_html
        from pipeline.inbound.mime import header, html_to_text, parse

        ooo = []
        for name, expected in sample_expectations().items():
            if expected["kind"] == "auto_reply":
                result = understand((SAMPLES / name).read_bytes())
                message = parse((SAMPLES / name).read_bytes())
                plain, html = text_and_html(message)
                body = f"{header(message, 'Subject')}\n{plain or html_to_text(html)}"
                assert result.date is not None, f"{name} has no Date the bench can start from"
                ooo.append((body, result.date, expected["return_date"]))

        def naive(body: str, when: Any) -> str | None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = (
                    search_dates(
                        body,
                        settings={
                            "RELATIVE_BASE": when.replace(tzinfo=None),
                            "PREFER_DATES_FROM": "future",
                        },
                    )
                    or []
                )
            later = [d for _, d in found if d.date() >= when.date()]
            return later[-1].date().isoformat() if later else None

        dp, t_dp = _timed(lambda: sum(naive(b, w) == e for b, w, e in ooo))
        mine_dates, t_mine = _timed(
            lambda: sum(
                (d.isoformat() if (d := return_date(b, w.date())) else None) == e for b, w, e in ooo
            )
        )
        figures["return_date_ours"] = _ratio(mine_dates, len(ooo))
        figures["return_date_dateparser_last_future_date"] = _ratio(dp, len(ooo))
        figures["return_date_ms_ours"] = round(t_mine * 1000 / len(ooo), 3)
        figures["return_date_ms_dateparser"] = round(t_dp * 1000 / len(ooo), 3)
        figures["return_date_count"] = len(ooo)
    except ImportError as err:
        figures["dateparser"] = f"not installed ({err})"
    return figures


SCENARIOS["inbound-libraries"] = inbound_libraries

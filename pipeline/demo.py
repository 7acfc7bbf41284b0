"""`outreach demo`: the whole lifecycle on the local default, offline, on a simulated clock.

What is real: the workspace, the SQLite database, the Maildir and vdir, the templates, the
inbound understanding, the lifecycle and the Dramatiq worker that creates the drafts.
What is simulated, and said so on screen: the clock (a week passes in seconds), the person
approving drafts (the demo moves them from Drafts to Sent as a mail client would), and the
contacts' side (replies written from the shipped samples in config/sample/mail).
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.utils import format_datetime, make_msgid
from pathlib import Path
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from connectors.maildir import MaildirMailbox
from connectors.vdir import VdirCalendar
from pipeline.app import App, bootstrap
from pipeline.clock import clock_from_environment
from pipeline.contacts import import_records, parse_contacts
from pipeline.digest import build_digest
from pipeline.errors import InputError
from pipeline.models import Account
from pipeline.outreach import start_outreach
from pipeline.resources import config_dir
from pipeline.settings import load_settings
from pipeline.tick import TickSummary, run_tick
from pipeline.workspace import create_workspace

Say = Callable[[str], None]

PROFILE = {
    "name": "Alex Rivera",
    "email": "alex.rivera@example.edu",
    "school": "Lakeview State University, class of 2026",
    "background": "a senior at Lakeview State studying statistics",
    "field": "public-interest data science",
    "intro": (
        "I'm Alex, a statistics senior at Lakeview State. I've loved the applied projects "
        "in my courses and I'm trying to learn where data skills make a real difference."
    ),
    "timezone": "America/New_York",
    "signature": "Alex Rivera\nLakeview State University, class of 2026",
}


@dataclass
class DemoClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


_names = itertools.count(1)


class MailClient:
    """Plays the person's mail client on the Maildir: sends drafts, receives mail."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, name: str) -> Path:
        return self.root if name == "INBOX" else self.root / f".{name}"

    def files(self, name: str) -> list[Path]:
        folder = self._folder(name)
        return sorted(
            p
            for sub in ("cur", "new")
            for p in (folder / sub).glob("*")
            if not p.name.startswith(".")
        )

    def _drop(self, folder: Path, raw: bytes, flags: str) -> Path:
        for sub in ("tmp", "new", "cur"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        unique = f"{1_800_000_000 + next(_names)}.P{os.getpid()}.demo-client"
        tmp = folder / "tmp" / unique
        tmp.write_bytes(raw)
        target = folder / ("cur" if flags else "new") / (f"{unique}:2,{flags}" if flags else unique)
        tmp.rename(target)
        return target

    def send_all_drafts(self) -> list[str]:
        """Approve every draft: it leaves Drafts and a copy lands in Sent (flag S)."""
        sent = []
        for path in self.files("Drafts"):
            raw = path.read_bytes()
            self._drop(self._folder("Sent"), raw, "S")
            path.unlink()
            message = message_from_bytes(raw, policy=policy.default)
            sent.append(f"{message['To']}: {message['Subject']}")
        return sent

    def deliver(self, raw: bytes) -> None:
        self._drop(self._folder("INBOX"), raw, "")

    def sent_to(self, address: str) -> Any:
        for path in self.files("Sent"):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if address in str(message["To"]).lower():
                return message
        raise LookupError(f"nothing sent to {address}")

    def drafts(self) -> list[Any]:
        return [
            message_from_bytes(p.read_bytes(), policy=policy.default) for p in self.files("Drafts")
        ]


@dataclass
class Demo:
    directory: Path
    say: Say
    clock: DemoClock
    app: App
    client: MailClient
    day0: datetime  # local midnight of the first simulated day
    summaries: list[TickSummary] = field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(PROFILE["timezone"])

    def at(self, days: int, hour: int, minute: int = 0) -> datetime:
        """UTC instant of a local wall time ``days`` after the first day."""
        local = (self.day0 + timedelta(days=days)).replace(hour=hour, minute=minute)
        return local.astimezone(UTC)

    def set_time(self, days: int, hour: int, minute: int = 0) -> None:
        self.clock.now = self.at(days, hour, minute)
        local = self.clock.now.astimezone(self.zone)
        self.say(f"\n[simulated clock] {local:%A %d %B %Y, %H:%M} ({PROFILE['timezone']})")

    def tick(self) -> TickSummary:
        from workers.dispatch import drain

        summary = run_tick(self.app, drain)
        self.summaries.append(summary)
        self.say(f"  tick: {summary.line()}")
        return summary

    def reply(self, sample: str, contact: tuple[str, str], **extra: str) -> None:
        name, email = contact
        original = self.client.sent_to(email)
        values = {
            "me_name": PROFILE["name"],
            "me_first": PROFILE["name"].split()[0],
            "me_email": PROFILE["email"],
            "from_name": name,
            "from_first": name.split()[0],
            "from_email": email,
            "subject": str(original["Subject"]),
            "in_reply_to": str(original["Message-ID"]),
            "original_date": str(original["Date"]),
            "date": format_datetime(self.clock.now),
            "message_id": make_msgid(domain=email.split("@")[1]),
            **extra,
        }
        text = Template((config_dir() / "sample" / "mail" / sample).read_text("utf-8"))
        raw = text.substitute(values).replace("\n", "\r\n").encode("utf-8")
        self.client.deliver(raw)


def _ics_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


DEMO_LAST_DAY = (7, 9)  # the simulated week ends on day 7 at 09:00


def _first_day(now: datetime, zone: ZoneInfo) -> datetime:
    """Local midnight of the Monday that starts the simulated week: the latest one whose
    week has ended by ``now``, so the workspace, explored afterwards on the real clock,
    shows a past that happened (no conversation "coming up" that was already held)."""
    local = now.astimezone(zone)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    days, hour = DEMO_LAST_DAY
    while monday + timedelta(days=days, hours=hour) > local:
        monday -= timedelta(days=7)
    return monday


# Marks a directory as the demo's own, the only kind that --force may replace.
DEMO_MARKER = ".outreach-demo"


def run_demo(
    directory: Path, say: Say, *, now: datetime | None = None, force: bool = False
) -> dict[str, Any]:
    """Run the scripted month-in-a-minute; return where things are and what happened."""
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory} is a file; give a new directory for the demo")
    if directory.exists() and any(directory.iterdir()):
        if not (directory / DEMO_MARKER).is_file():
            raise InputError(
                f"{directory} is not empty and is not an earlier demo; give a new directory "
                "(--force only replaces a directory the demo made)"
            )
        if not force:
            raise InputError(
                f"{directory} holds an earlier demo; give another directory, or --force to "
                "replace it"
            )
        shutil.rmtree(directory)
    zone = ZoneInfo(PROFILE["timezone"])
    day0 = _first_day(now or clock_from_environment()(), zone)
    clock = DemoClock(day0.replace(hour=9).astimezone(UTC))
    create_workspace(directory, PROFILE)
    (directory / DEMO_MARKER).write_text(
        "Made by `outreach demo`; `outreach demo --force` may replace this directory.\n",
        encoding="utf-8",
    )
    settings = load_settings(directory)
    account = settings.account()
    mail_root = directory / "mail"
    app = bootstrap(
        settings,
        clock=clock,
        mailbox_factory=lambda a, w: MaildirMailbox(mail_root, a.address, clock=clock),
        calendar_factory=lambda a, w: VdirCalendar(directory / "calendar", clock=clock),
    )
    from workers.broker import setup_broker
    from workers.runtime import use_app

    setup_broker("stub://")
    use_app(app)
    demo = Demo(directory, say, clock, app, MailClient(mail_root), day0)
    try:
        _script(demo, account.name)
    finally:
        use_app(None)
        app.close()
    return {
        "workspace": str(directory),
        "mail": str(mail_root),
        "calendar": str(directory / "calendar"),
        "database": settings.database_url,
        "ticks": [s.as_dict() for s in demo.summaries],
    }


def _script(demo: Demo, account_name: str) -> None:
    say, app, client = demo.say, demo.app, demo.client
    say(
        "This demo runs the real pipeline on a new local workspace. Simulated: the clock, "
        "you approving drafts (moved from Drafts to Sent as your mail client would), and "
        "your contacts' replies (shipped sample mail). Nothing leaves this machine."
    )
    demo.set_time(0, 9)
    sample = config_dir() / "sample" / "linkedin_connections.csv"
    with app.store.write() as session:
        report = import_records(
            session, parse_contacts(sample), source=sample.name, skip_invalid=False, now=app.now()
        )
        say(
            f"  imported {report.created} contacts from a LinkedIn export "
            f"({report.without_email} without an email address)"
        )
        account = session.scalars(select(Account).where(Account.name == account_name)).one()
        started = start_outreach(
            session, account, [], all_contacts=True, now=app.now(), policy=app.policy, per_day=20
        )
        say(
            f"  started outreach to {len(started.started)}; skipped "
            + ", ".join(f"{s['name']} ({s['reason'].split(':')[0]})" for s in started.skipped)
        )
    demo.tick()
    first = client.drafts()[0]
    say(f"\n  One of the drafts in {client.root / '.Drafts'}:\n")
    say(_indent(f"To: {first['To']}\nSubject: {first['Subject']}\n\n{first.get_content()}"))

    demo.set_time(0, 9, 40)
    say("  [simulated] you read the drafts and send them from your mail client")
    for line in client.send_all_drafts():
        say(f"    sent {line}")
    demo.tick()

    demo.set_time(1, 10)
    say("  [simulated] replies arrive from the shipped sample mail")
    meet_start = demo.at(3, 16)
    demo.reply("positive_invite_coming.eml", ("Maya Okafor", "maya.okafor@example.com"))
    demo.reply(
        "meeting_invite.eml",
        ("Maya Okafor", "maya.okafor@example.com"),
        dtstart=_ics_time(meet_start),
        dtend=_ics_time(meet_start + timedelta(minutes=30)),
        dtstamp=_ics_time(demo.clock.now),
        uid="demo-maya-okafor-1@video.example.com",
        when_text=f"{meet_start.astimezone(demo.zone):%A %d %B, %H:%M} (30 min)",
    )
    back = demo.at(9, 9).astimezone(demo.zone)
    demo.reply(
        "out_of_office.eml",
        ("Daniel Reyes-Whitaker", "d.reyes-whitaker@example.org"),
        return_text=f"{back:%A, %B} {back.day}, {back.year}",
    )
    demo.reply("bounce.eml", ("Priya Raman", "priya.raman@example.net"))
    demo.reply("decline.eml", ("Tomasz Wiśniewski", "tomasz.wisniewski@example.com"))
    demo.reply("introduction.eml", ("Aisha Bello", "aisha.bello@example.org"))
    demo.reply("positive_calendar.eml", ("Jonah Feld", "jonah.feld@example.net"))
    call_start = demo.at(4, 12)
    ics = Template((config_dir() / "sample" / "mail" / "calendar_event.ics").read_text("utf-8"))
    (demo.directory / "calendar" / "demo-jonah-feld-1.ics").write_text(
        ics.substitute(
            uid="demo-jonah-feld-1@calendar.example.net",
            dtstamp=_ics_time(demo.clock.now),
            dtstart=_ics_time(call_start),
            dtend=_ics_time(call_start + timedelta(minutes=30)),
            from_name="Jonah Feld",
            from_email="jonah.feld@example.net",
            me_name=PROFILE["name"],
            me_email=PROFILE["email"],
        ).replace("\n", "\r\n"),
        encoding="utf-8",
    )
    say("  [simulated] Jonah puts a call on your calendar (a new .ics in the vdir)")
    demo.tick()
    _show_drafts(demo, "  New drafts waiting for you:")
    prep = sorted((demo.directory / "calendar").glob("*.ics"))
    ours = [p for p in prep if "X-OUTREACH-KEY" in p.read_text("utf-8")]
    if ours:
        say(f"\n  Prep notes written to your calendar ({ours[0].name}), first lines:\n")
        description = _ics_description(ours[0])
        say(_indent("\n".join(description.splitlines()[:14]) + "\n..."))

    demo.set_time(1, 11)
    say("  [simulated] you send the drafts")
    for line in client.send_all_drafts():
        say(f"    sent {line}")
    demo.tick()
    _show_drafts(demo, "  Drafted after your sends (a note back to the person who introduced):")

    demo.set_time(3, 17)
    say("  Maya's conversation ended at 16:30")
    demo.tick()
    for draft in client.drafts():
        if "maya" in str(draft["To"]).lower():
            say("\n  The thank-you draft:\n")
            say(_indent(f"To: {draft['To']}\nSubject: {draft['Subject']}\n\n{draft.get_content()}"))
    demo.set_time(4, 13)
    demo.tick()
    client.send_all_drafts()
    demo.set_time(*DEMO_LAST_DAY)
    say(
        "  A week after the first outreach: silence gets a nudge in the same thread; "
        "Daniel is still away, so his waits"
    )
    demo.tick()
    _show_drafts(demo, "  Drafts now:")
    digest = build_digest(
        app, app.settings.account().name, demo.clock.now.astimezone(demo.zone).date()
    )
    body = digest.get_body(preferencelist=("plain",))
    say("\n  Today's digest (outreach digest --to inbox would put it in your inbox):\n")
    say(_indent(f"Subject: {digest['Subject']}\n\n{body.get_content() if body else ''}"))


def _ics_description(path: Path) -> str:
    import icalendar

    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    for event in calendar.walk("VEVENT"):
        return str(event.get("DESCRIPTION", ""))
    return ""


def _show_drafts(demo: Demo, title: str) -> None:
    drafts = demo.client.drafts()
    demo.say(title if drafts else title + " none")
    for draft in drafts:
        demo.say(f"    {draft['To']}: {draft['Subject']}")


def _indent(text: str) -> str:
    return "\n".join(f"    | {line}" for line in text.rstrip().splitlines())

"""The HTML digest reads like a well-made email, on a phone and on a desktop.

Rendered in a real browser (headless Chromium): at a phone's width and at a desktop's,
nothing is wider than the screen and every section is there; screenshots are saved (to
$OUTREACH_TEST_ARTIFACTS when set, else the test's temporary directory). Without
Chromium the browser tests skip with the reason, except in CI, where .ci/run installs it.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.compose import TemplateSet
from pipeline.digest import command_parts, funnel_bars
from tests.conftest import IN_CI

DAY = date(2026, 12, 8)
NOON = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
SECTIONS = [
    "Accounts to reconnect",
    "Accounts not working",
    "Not drafted: needs you",
    "Drafts waiting for you",
    "Replies to answer",
    "Conversations today",
    "Thank-yous due",
    "Addresses that bounced",
    "Later this week",
    "Back from away",
    "A tip on yesterday's first messages",
    "Skipped as unreadable",
    "Where things stand",
]


def person(name: str) -> dict[str, Any]:
    first, last = name.split(" ", 1)
    return {"name": name, "first_name": first, "last_name": last}


def full_context() -> dict[str, Any]:
    """Something in every section, with the long unbroken strings real data holds."""
    funnel = {"planned": 4, "outreach_drafted": 3, "sent": 12, "replied": 2, "booked": 1}
    return {
        "me": {"name": "Ada Park", "timezone": "Europe/Berlin"},
        "day": DAY,
        "accounts_needing_auth": ["gmail"],
        "accounts_unavailable": [{"name": "local", "reason": "Read-only file system"}],
        "failed": [{"contact": person("Sam Ortiz"), "label": "first outreach", "error": "no role"}],
        "failed_fix": "fill the missing field with `outreach contacts set`",
        "failed_fix_parts": command_parts("fill the missing field with `outreach contacts set`"),
        "drafts": [
            {
                "contact": person("Dana Kim"),
                "kind": "first_outreach",
                "label": "first outreach",
                "since_days": 2,
            },
            {
                "contact": person("Lee Chen"),
                "kind": "nudge",
                "label": "follow-up nudge",
                "since_days": 0,
            },
        ],
        "replies": [
            {
                "contact": person("Maya Okafor"),
                "intent": "positive",
                "excerpt": "Happy to talk! Thursday at 2pm works for me.",
            }
        ],
        "meetings_today": [
            {
                "contact": person("Maya Okafor"),
                "start": NOON,
                "end": NOON + timedelta(minutes=30),
                "prep_notes": True,
            }
        ],
        "meetings_week": [{"contact": person("Priya Raman"), "start": NOON + timedelta(days=2)}],
        "thank_yous": [{"contact": person("Tomasz Nowak"), "deadline": NOON + timedelta(hours=20)}],
        "bounces": [{"contact": person("Omar Haddad"), "email": "omar.haddad@example.org"}],
        "returning": [{"contact": person("Rosa Lima"), "return_date": DAY + timedelta(days=3)}],
        "coaching": [{"contact": person("Kenji Sato"), "missing": ["say when you will follow up"]}],
        "skipped": [
            {
                "stream": "mail",
                "item": "INBOX/1733650000.M123456P7890Q1." + "x" * 120,
                "reason": "no header fields",
                "at": NOON.isoformat(),
            }
        ],
        "funnel": funnel,
        "funnel_bars": funnel_bars(funnel),
        "links": {
            "drafts": "https://mail.google.com/mail/u/0/#drafts",
            "inbox": "https://mail.google.com/mail/u/0/#inbox",
        },
    }


def empty_context() -> dict[str, Any]:
    context = full_context()
    for key in (
        "accounts_needing_auth",
        "accounts_unavailable",
        "failed",
        "drafts",
        "replies",
        "meetings_today",
        "meetings_week",
        "thank_yous",
        "bounces",
        "returning",
        "coaching",
        "skipped",
    ):
        context[key] = []
    context["funnel"], context["funnel_bars"] = {}, []
    return context


def render(context: dict[str, Any]) -> str:
    return TemplateSet().render_text("digest.html.j2", context)


def headings(document: str) -> list[str]:
    return [re.sub(r"\s*\(\d+\)$", "", h) for h in re.findall(r"<h2[^>]*>([^<]+)</h2>", document)]


def test_every_section_with_something_in_it_is_there_in_order() -> None:
    assert [html.unescape(h) for h in headings(render(full_context()))] == SECTIONS


def test_empty_sections_are_left_out() -> None:
    document = render(empty_context())
    assert headings(document) == []
    assert "Nothing needs you today." in document


def test_it_is_built_like_an_email() -> None:
    """Inline styles only (no <style> block, no external sheet), a viewport for phones,
    light and dark colour schemes, and the numbers of the funnel in text beside the bars."""
    document = render(full_context())
    assert "<style" not in document and "<link" not in document
    assert 'name="viewport"' in document and 'content="light dark"' in document
    assert re.search(r">\s*sent\s*</td>.*?>\s*12\s*</td>", document, re.S)
    assert 'href="https://mail.google.com/mail/u/0/#drafts"' in document
    assert 'outreach contacts set "Omar Haddad" email=NEW' in document


def test_commands_in_a_hint_are_set_in_code_type_not_in_backticks() -> None:
    document = render(full_context())
    assert re.search(
        r"To fix: fill the missing field with <code[^>]*>outreach contacts set</code>", document
    )
    assert "`" not in document


# -- in a real browser -----------------------------------------------------------------


def _chromium() -> str:
    found = next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(n)
        ),
        None,
    )
    if found is None:
        if IN_CI:
            pytest.fail("Chromium is missing; .ci/run installs it (apt-get install chromium)")
        pytest.skip("Chromium is not installed: apt-get install chromium (see README)")
    return found


_PROBE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" style="border:0; width:{width}px; height:{height}px" srcdoc="{doc}"></iframe>
<script>
const f = document.getElementById("f");
f.addEventListener("load", () => {{
  const d = f.contentDocument;
  document.body.dataset.inner = f.clientWidth;
  document.body.dataset.scroll = d.documentElement.scrollWidth;
  let widest = 0;
  for (const el of d.body.querySelectorAll("*")) {{
    widest = Math.max(widest, el.getBoundingClientRect().right);
  }}
  document.body.dataset.widest = Math.ceil(widest);
  document.body.dataset.sections = [...d.querySelectorAll("h2")].map(h => h.textContent).join("|");
}});
</script></body></html>"""


def _in_browser(document: str, width: int, height: int, shot: Path) -> dict[str, str]:
    """Load ``document`` in an iframe ``width`` pixels wide (headless Chromium windows are
    at least 500 wide, so a phone's screen is an iframe) and read what it measured."""
    page = shot.with_suffix(".html")
    page.write_text(_PROBE.format(width=width, height=height, doc=html.escape(document)))
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={max(width, 500)},{height}",
    ]
    browser = _chromium()
    dom = subprocess.run(
        [browser, *flags, "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    return dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))


@pytest.mark.parametrize(("width", "height"), [(375, 2600), (1024, 1800)], ids=["phone", "desktop"])
def test_in_a_browser_nothing_is_wider_than_the_screen_and_every_section_shows(
    tmp_path: Path, width: int, height: int
) -> None:
    folder = Path(os.environ.get("OUTREACH_TEST_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"digest-{width}.png"
    measured = _in_browser(render(full_context()), width, height, shot)
    assert int(measured["scroll"]) <= int(measured["inner"]), measured
    assert int(measured["widest"]) <= int(measured["inner"]), measured
    shown = [re.sub(r"\s*\(\d+\)$", "", s) for s in html.unescape(measured["sections"]).split("|")]
    assert shown == SECTIONS
    assert shot.stat().st_size > 10_000  # a picture, not an empty page

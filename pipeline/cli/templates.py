"""`outreach templates check|preview|list`."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pipeline.cli._app import app, console, print_json
from pipeline.cli._common import JsonOption, WorkspaceOption, opened
from pipeline.coach import review_message
from pipeline.compose import Envelope, TemplateSet, kinds_for_contact
from pipeline.contacts import resolve_contact
from pipeline.context import coach_samples, contact_context, sample_context
from pipeline.errors import InputError
from pipeline.models import Contact
from pipeline.models import Outreach as OutreachRow
from pipeline.settings import WORKSPACE_FILE

templates_app = typer.Typer(help="Check and preview the message templates.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")


@templates_app.command("list")
def list_(json_: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """The message kinds and the file each one comes from (your overrides first).

    \b
    Example:
      outreach templates list
    """
    with opened(workspace) as ctx:
        templates = TemplateSet(ctx.settings.templates_override)
        rows = {kind: str(templates.path_of(kind)) for kind in templates.kinds()}
        for name in ("prep_notes", "digest.txt.j2", "digest.html.j2"):
            rows[name.removesuffix(".j2")] = str(templates.path_of(name))
    if json_:
        print_json(rows)
        return
    for kind, path in rows.items():
        console.print(f"{kind:>18}  {path}", highlight=False)


@templates_app.command("check")
def check(json_: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Render every template for every contact who could receive it; list missing fields.

    Exits 1 when any contact lacks a field a template needs.

    \b
    Example:
      outreach templates check
    """
    with opened(workspace) as ctx, ctx.store.read() as session:
        templates = TemplateSet(ctx.settings.templates_override)
        now = ctx.now()
        referrers = set(session.scalars(select(Contact.referred_by_id)))
        outreach_referrer = dict(
            session.execute(select(OutreachRow.contact_id, OutreachRow.referrer_contact_id)).all()
        )
        problems: list[dict[str, Any]] = []
        profile_gaps: dict[str, set[str]] = {}  # your own fields: once, not per contact
        profile: list[dict[str, Any]] = []
        checked = 0
        for contact in session.scalars(
            select(Contact).options(selectinload(Contact.emails)).order_by(Contact.id)
        ):
            if contact.primary_email is None:
                continue  # cannot receive anything
            checked += 1
            referrer_id = outreach_referrer.get(contact.id)
            referrer = session.get(Contact, referrer_id) if referrer_id else None
            kinds = kinds_for_contact(
                contact_context(contact),
                referrer_is_contact=referrer is not None,
                is_referrer=contact.id in referrers,
            )
            for kind in kinds:
                context = sample_context(ctx.settings, contact, kind, now, referrer=referrer)
                missing = templates.missing_fields(kind, context)
                for field in (m for m in missing if m.startswith("me.")):
                    profile_gaps.setdefault(field, set()).add(kind)
                theirs = [m for m in missing if not m.startswith("me.")]
                if theirs:
                    problems.append(
                        {
                            "contact": contact.name or contact.primary_email,
                            "id": contact.id,
                            "template": kind,
                            "missing": theirs,
                        }
                    )
    profile += [
        {"field": field, "templates": sorted(kinds)}
        for field, kinds in sorted(profile_gaps.items())
    ]
    coached = _coach(templates, ctx.settings, now)
    if json_:
        print_json(
            {
                "contacts_checked": checked,
                "problems": problems,
                "profile": profile,
                "coach": coached,
            }
        )
    else:
        for gap in profile:
            key = str(gap["field"]).removeprefix("me.")
            console.print(
                f"Your profile has no {key} ({', '.join(gap['templates'])} use it): add "
                f'{key} = "..." to the profile table of {ctx.settings.workspace / WORKSPACE_FILE}.',
                markup=False,
                highlight=False,
            )
        for problem in problems:
            console.print(
                f"{problem['contact']} (id {problem['id']}): {problem['template']} "
                f"needs {', '.join(problem['missing'])}",
                highlight=False,
            )
        for review in coached:
            console.print(f"{review['template']} (the first message's coach):", highlight=False)
            for finding in review["findings"]:
                where = f" (line {finding['line']}: {finding['text']!r})" if finding["line"] else ""
                console.print(f"  - {finding['advice']}{where}", highlight=False, markup=False)
        gaps = len(problems) + len(profile) + len(coached)
        verdict = "all templates render" if not gaps else f"{gaps} gap(s)"
        console.print(f"{checked} contacts checked: {verdict}.")
        if problems:
            console.print(
                "Fill a contact's fields with `outreach contacts set CONTACT FIELD=VALUE`, or "
                "in your contacts file, then import it again; "
                f"yours in the [profile] table of {ctx.settings.workspace / WORKSPACE_FILE}. "
                f"Or adjust the templates in {ctx.settings.templates_override}.",
                markup=False,  # "[profile]" is text, not a style
                highlight=False,
            )
    if problems or profile or coached:
        raise typer.Exit(1)


def _coach(templates: TemplateSet, settings: Any, now: datetime) -> list[dict[str, Any]]:
    """The first-outreach coach's findings for each first-message template that renders
    (a template lacking a field is reported above instead)."""
    reviews = []
    for kind, context, mutual in coach_samples(settings, now):
        if templates.missing_fields(kind, context):
            continue
        contact = context["contact"]
        envelope = Envelope(
            sender=(settings.profile["name"], settings.profile["email"] or "you@example.org"),
            to=(f"{contact['first_name']} {contact['last_name']}", "jordan@example.org"),
            key=f"sample/0/{kind}/1",
            date=now,
        )
        findings = review_message(
            templates.render_message(kind, context, envelope), mutual_contact=mutual
        )
        if findings:
            reviews.append(
                {"template": kind, "findings": [asdict(finding) for finding in findings]}
            )
    return reviews


@templates_app.command("preview")
def preview(
    kind: Annotated[str, typer.Argument(help="Message kind, e.g. first_cold or thank_you.")],
    contact: Annotated[str, typer.Argument(help="Contact by id, email or name.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Show a message exactly as it would be drafted for a contact (nothing is written).

    \b
    Examples:
      outreach templates preview first_cold "Dana Kim"
      outreach templates preview prep_notes dana@example.org
    """
    with opened(workspace) as ctx, ctx.store.read() as session:
        templates = TemplateSet(ctx.settings.templates_override)
        known = [*templates.kinds(), "prep_notes"]
        if kind not in known:
            raise InputError(f"no template {kind!r}; known: {', '.join(known)}")
        person = resolve_contact(session, contact)
        if person.primary_email is None:
            raise InputError(f"{person.name} has no email address; add one and import again")
        referrer = None
        row = session.scalar(select(OutreachRow).where(OutreachRow.contact_id == person.id))
        if row is not None and row.referrer_contact_id:
            referrer = session.get(Contact, row.referrer_contact_id)
        now = ctx.now()
        context = sample_context(ctx.settings, person, kind, now, referrer=referrer)
        if kind == "prep_notes":
            text = templates.render_text(kind, context)
            console.print(text, highlight=False, markup=False)
            return
        account = ctx.settings.account()
        envelope = Envelope(
            sender=(ctx.settings.profile["name"], account.address),
            to=(person.name, person.primary_email),
            key=f"{account.name}/{person.id}/preview/{kind}",
            date=now,
        )
        message = templates.render_message(kind, context, envelope)
    for header in ("From", "To", "Subject"):
        console.print(f"{header}: {message[header]}", highlight=False, markup=False)
    console.print("", highlight=False)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    console.print(body.get_content(), highlight=False, markup=False)

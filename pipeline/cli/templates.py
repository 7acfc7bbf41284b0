"""`outreach templates check|preview|list`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pipeline.cli._app import app, console, print_json
from pipeline.cli._common import JsonOption, WorkspaceOption, opened
from pipeline.compose import Envelope, TemplateSet, kinds_for_contact
from pipeline.contacts import resolve_contact
from pipeline.context import contact_context, sample_context
from pipeline.errors import InputError
from pipeline.models import Contact
from pipeline.models import Outreach as OutreachRow
from pipeline.settings import WORKSPACE_FILE

templates_app = typer.Typer(help="Check and preview the message templates.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")


@templates_app.command("list")
def list_(json_: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """The message kinds and the file each one comes from (your overrides first).

    Example:
      outreach templates list
    """
    with opened(workspace) as ctx:
        templates = TemplateSet(ctx.settings.templates_override)
        rows = {kind: str(templates.path_of(kind)) for kind in templates.kinds()}
        rows["prep_notes"] = str(templates.path_of("prep_notes"))
    if json_:
        print_json(rows)
        return
    for kind, path in rows.items():
        console.print(f"{kind:>18}  {path}", highlight=False)


@templates_app.command("check")
def check(json_: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Render every template for every contact who could receive it; list missing fields.

    Exits 1 when any contact lacks a field a template needs.

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
                if missing:
                    problems.append(
                        {
                            "contact": contact.name or contact.primary_email,
                            "id": contact.id,
                            "template": kind,
                            "missing": missing,
                        }
                    )
    if json_:
        print_json({"contacts_checked": checked, "problems": problems})
    else:
        for problem in problems:
            console.print(
                f"{problem['contact']} (id {problem['id']}): {problem['template']} "
                f"needs {', '.join(problem['missing'])}",
                highlight=False,
            )
        verdict = "all templates render" if not problems else f"{len(problems)} gap(s)"
        console.print(f"{checked} contacts checked: {verdict}.")
        if problems:
            console.print(
                "Fill the fields: a contact's in your contacts file, then import it again; "
                f"yours in the [profile] table of {ctx.settings.workspace / WORKSPACE_FILE}. "
                f"Or adjust the templates in {ctx.settings.templates_override}.",
                markup=False,  # "[profile]" is text, not a style
                highlight=False,
            )
    if problems:
        raise typer.Exit(1)


@templates_app.command("preview")
def preview(
    kind: Annotated[str, typer.Argument(help="Message kind, e.g. first_cold or thank_you.")],
    contact: Annotated[str, typer.Argument(help="Contact by id, email or name.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Show a message exactly as it would be drafted for a contact (nothing is written).

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

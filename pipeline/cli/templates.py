"""`outreach templates check|preview|list`."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.cli._app import app, console, print_json
from pipeline.cli._common import JsonOption, WorkspaceOption, opened
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
    from pipeline.compose import TemplateSet

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
    from pipeline.previews import check_templates

    with opened(workspace) as ctx:
        found = check_templates(ctx)
    checked, problems, profile, coached = found.checked, found.problems, found.profile, found.coach
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
        gaps = found.gaps
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
    from pipeline.previews import preview as preview_message

    with opened(workspace) as ctx:
        shown = preview_message(ctx, kind, contact)
    if shown.text is not None:
        console.print(shown.text, highlight=False, markup=False)
        return
    message = shown.message
    assert message is not None
    for header in ("From", "To", "Subject"):
        console.print(f"{header}: {message[header]}", highlight=False, markup=False)
    console.print("", highlight=False)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    console.print(body.get_content(), highlight=False, markup=False)

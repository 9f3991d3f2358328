"""`capitolmail signers`: review a sign-on letter's signatures, and export the approved."""

from __future__ import annotations

from pathlib import Path

import click

from capitolmail.cli.context import WholeNumber, now, pass_workspace
from capitolmail.display import err, out, print_json
from capitolmail.errors import CapitolmailError, InputError
from capitolmail.letters.definition import load_letter
from capitolmail.outbox.signatures import SignatureStatus
from capitolmail.signon.review import count_line, describe, export_csv
from capitolmail.workspace import Workspace

_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")


@click.group("signers")
def signers_group() -> None:
    """Signatures collected by a letter's sign-on form: review, approve, export."""


def _sign_on_slug(workspace: Workspace, slug: str) -> str:
    letter = load_letter(workspace.root, slug)
    if letter.definition.sign_on is None:
        raise InputError(
            f"{slug} has no [sign_on] table, so no signatures; its signers are in "
            f"{letter.signers_display}",
            path=letter.display_path,
        )
    return slug


def _show(workspace: Workspace, slug: str, statuses: tuple[SignatureStatus, ...] | None,
          as_json: bool) -> None:  # fmt: skip
    store = workspace.store
    signatures = store.list_signatures(_sign_on_slug(workspace, slug), statuses)
    if as_json:
        print_json({"letter": slug, "signatures": [s.as_json() for s in signatures]})
        return
    if not signatures:
        err.print("No signatures" + (" waiting for review." if statuses else " yet."))
    for signature in signatures:
        out.print(describe(signature), highlight=False)
    err.print(count_line(store, slug))


@signers_group.command("list")
@click.argument("slug")
@_JSON
@pass_workspace
def signers_list_command(workspace: Workspace, slug: str, as_json: bool) -> None:
    """Every signature of SLUG, in the order they came in, with its status."""
    _show(workspace, slug, None, as_json)


@signers_group.command("pending")
@click.argument("slug")
@_JSON
@pass_workspace
def signers_pending_command(workspace: Workspace, slug: str, as_json: bool) -> None:
    """Signatures of SLUG waiting for a decision (confirmed) or a confirmation (pending)."""
    _show(workspace, slug, (SignatureStatus.CONFIRMED, SignatureStatus.PENDING), as_json)


def _decide(workspace: Workspace, slug: str, ids: tuple[int, ...], status: SignatureStatus,
            as_json: bool) -> None:  # fmt: skip
    store = workspace.store
    _sign_on_slug(workspace, slug)
    if store.letter_queued(slug):
        err.print(
            f"Note: {slug} is already queued; a decision now changes only a letter queued again."
        )
    decided = []
    for signature_id in ids:
        try:
            decided.append(store.decide_signature(slug, signature_id, status, now()))
        except CapitolmailError:
            if decided:
                err.print(f"{status.capitalize()}: " + ", ".join(str(s.id) for s in decided))
            raise
    if as_json:
        print_json({"letter": slug, "signatures": [s.as_json() for s in decided]})
        return
    for signature in decided:
        err.print(f"Signature {signature.id} ({signature.organisation}) {status}.")
    err.print(count_line(store, slug))


@signers_group.command("approve")
@click.argument("slug")
@click.argument("ids", nargs=-1, required=True, type=WholeNumber(1, 2**31 - 1))
@_JSON
@pass_workspace
def signers_approve_command(
    workspace: Workspace, slug: str, ids: tuple[int, ...], as_json: bool
) -> None:
    """Approve confirmed signatures IDS of SLUG: their organisations join the letter."""
    _decide(workspace, slug, ids, SignatureStatus.APPROVED, as_json)


@signers_group.command("reject")
@click.argument("slug")
@click.argument("ids", nargs=-1, required=True, type=WholeNumber(1, 2**31 - 1))
@_JSON
@pass_workspace
def signers_reject_command(
    workspace: Workspace, slug: str, ids: tuple[int, ...], as_json: bool
) -> None:
    """Reject signatures IDS of SLUG: they stay on record, never on the letter."""
    _decide(workspace, slug, ids, SignatureStatus.REJECTED, as_json)


@signers_group.command("export")
@click.argument("slug")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
@pass_workspace
def signers_export_command(workspace: Workspace, slug: str, output: Path | None) -> None:
    """The approved signatures of SLUG as signers.csv columns (formula-safe CSV)."""
    signatures = workspace.store.list_signatures(
        _sign_on_slug(workspace, slug), (SignatureStatus.APPROVED,)
    )
    text = export_csv(signatures)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    err.print(f"Wrote {len(signatures)} approved signatures to {output}.")

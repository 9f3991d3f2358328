"""`capitolmail proof SLUG --to ADDRESS`: one rendered letter to yourself, no job."""

from __future__ import annotations

from pathlib import Path

import click

from capitolmail.cli.context import pass_workspace
from capitolmail.display import err
from capitolmail.letters.pipeline import load, proof_letter
from capitolmail.letters.proof import proof_addresses
from capitolmail.providers import FileProvider, create_provider
from capitolmail.sending.proofs import send_proofs
from capitolmail.workspace import Workspace


@click.command("proof")
@click.argument("slug")
@click.option(
    "--to",
    "to",
    multiple=True,
    required=True,
    help="Your address (repeatable, or comma-separated; at most 10). Only it receives the proof.",
)
@click.option(
    "--as",
    "as_id",
    help="Whose letter to send: the id `letters preview --to` takes (bioguide id or contact "
    "email; a supporter's email for an alert). Default: the first recipient.",
)
@pass_workspace
def proof_command(workspace: Workspace, slug: str, to: tuple[str, ...], as_id: str | None) -> None:
    """Send one recipient's rendered message of SLUG to yourself, marked [PROOF].

    It goes through the configured provider, but creates no job and stores
    nothing: `status` and the suppression list do not change.
    """
    addresses = proof_addresses(to)
    kind = load(workspace, slug)
    who, messages = proof_letter(workspace, kind, as_id, addresses)
    provider = create_provider(workspace.settings, outbox_dir=workspace.outbox_dir)
    receipts = send_proofs(provider, messages)
    for message, receipt in zip(messages, receipts, strict=True):
        where = ""
        if receipt.provider_message_id and provider.name == FileProvider.name:
            where = f" ({workspace.display(Path(receipt.provider_message_id))})"
        err.print(
            f"Sent a proof of {slug} (the message {who}) to {message.to_email} through "
            f"{provider.name}{where}; no job was created."
        )

"""`capitolmail serve`: the webhook receiver, unsubscribe pages and status page."""

from __future__ import annotations

import logging

import click

from capitolmail.cli.context import WholeNumber, pass_workspace
from capitolmail.display import err
from capitolmail.workspace import Workspace


@click.command("serve")
@click.option("--host", help="Address to listen on. Default: [web] host (127.0.0.1).")
@click.option(
    "--port", type=WholeNumber(1, 65535), help="Port to listen on. Default: [web] port (8025)."
)
@pass_workspace
def serve_command(workspace: Workspace, host: str | None, port: int | None) -> None:
    """Receive SendGrid events; serve one-click unsubscribe, sign-on forms and the status page.

    Uses the workspace's settings and database, like `capitolmail worker`. Run it
    behind an HTTPS proxy that forwards to this address.
    """
    # Imported here: the rest of the command line should not pay for a web server.
    import uvicorn

    from capitolmail.web.app import create_app
    from capitolmail.web.security import HideTokensFilter

    settings = workspace.settings
    app = create_app(settings, workspace.store, workspace.root)
    host = host or settings.web.host
    port = port or settings.web.port
    logging.getLogger("uvicorn.access").addFilter(HideTokensFilter())
    public = settings.web.base_url or "not set ([web] base_url)"
    err.print(f"Serving on http://{host}:{port}; public address {public}. Ctrl-C stops.")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # keep the handlers `capitolmail` configured
        server_header=False,
        proxy_headers=True,  # trusts X-Forwarded-* from 127.0.0.1 only (uvicorn's default)
    )

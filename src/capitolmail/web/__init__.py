"""`capitolmail serve`: SendGrid's event webhook, one-click unsubscribe, the status page.

An edge like `cli/`: each module parses a request, calls the store or one core
function, and renders the answer. `create_app` builds the application from the
same settings and database the worker uses.
"""

from __future__ import annotations

from capitolmail.web.app import create_app

__all__ = ["create_app"]

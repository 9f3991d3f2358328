"""The Jinja2 environment delivery reports are rendered in: our own templates, always escaped.

Apart from the letters' sandboxed environment (environment.py), which renders
templates staff write; these templates are ours, and what they show is not:
office names, a server's bounce reply, a clicked URL, a subject. Autoescape is
on for every template whatever its name, and a name a template misspells fails
the render (StrictUndefined) rather than leaving a blank in a report partners
read. Nothing is ever put together as a string of HTML outside a template.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined


def report_environment(zone: ZoneInfo) -> Environment:
    env = Environment(
        loader=PackageLoader("capitolmail.templates", "reports"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda value: _when(value, zone, "%Y-%m-%d %H:%M %Z")
    # In the table, where the zone is said once above it: "Dec 01 10:34".
    env.filters["clock"] = lambda value: _when(value, zone, "%b %d %H:%M")
    env.globals["zone_name"] = zone.key
    return env


def _when(value: datetime | None, zone: ZoneInfo, shape: str) -> str:
    return value.astimezone(zone).strftime(shape) if value else ""

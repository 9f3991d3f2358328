"""The names our ids travel under through a provider and come back under on its events.

A leaf with no imports, because two sides that must never import each other
read it: the provider that sets the names on a send (`providers/sendgrid_shape.py`)
and the parser that reads them off the provider's events (`tracking/sendgrid.py`).
Kept apart from `message.py`, which is the message itself: these are a
transport's labels for it, and a rename here changes both sides at once.
"""

from __future__ import annotations

# SendGrid copies custom_args onto every event about the message, as top-level keys.
MESSAGE_ID_ARG = "capitolmail_message_id"
JOB_ID_ARG = "capitolmail_job_id"
# Every key capitolmail sets, so an event's metadata can keep ours and no one else's.
OUR_ARGS = (MESSAGE_ID_ARG, JOB_ID_ARG)

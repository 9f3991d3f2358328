"""What happened to a message after a provider took it, and what that changes.

`events` is the one event type every source produces (SendGrid's webhook today,
the inbound mailbox's bounces next), `sendgrid` turns SendGrid's signed batches
into it, and `apply` moves our messages and the suppression list by it;
`unsubscribes` is a person's own unsubscribe link. Tracking reads and writes the
outbox; the outbox never imports tracking.
"""

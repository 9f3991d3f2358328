"""Where APScheduler finds the function of a job stored before sending/ existed.

APScheduler keeps the import path of the function it calls, and rows written by
earlier versions say "capitolmail.schedule:start_scheduled_job". New rows name
capitolmail.sending.schedule; this shim lets the old ones still run.
"""

from capitolmail.sending.schedule import start_scheduled_job

__all__ = ["start_scheduled_job"]

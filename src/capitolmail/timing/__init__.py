"""When and how fast a job sends: rates, send windows, `--at` times, durations as read.

Values, not machinery: config, the store, the send loop and the command line all read
them, so this package imports nothing of theirs.
"""

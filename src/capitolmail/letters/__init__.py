"""Joint letters: what a letter is, who co-signs it, and how it becomes queued messages.

Each module here reads one of the files in `letters/<slug>/` and checks it completely
before anything is rendered, so a mistake costs a re-run rather than a wrong letter on
a Hill office's desk.
"""

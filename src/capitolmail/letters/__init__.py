"""Letters: what a letter is, who gets it, and how it becomes queued messages.

The files in `letters/<slug>/` are read and checked completely before anything is
rendered (definition, signers), so a mistake costs a re-run rather than a wrong
letter on a Hill office's desk. Then one path for every kind: a kind
(kinds/joint.py, kinds/alert.py) says who the recipients are and what each
template sees; compose.py turns one recipient into the message that is stored,
with every send-time rule; queue.py streams them all into one transaction;
pipeline.py is what the commands call.
"""

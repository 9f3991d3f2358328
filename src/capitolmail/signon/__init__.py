"""Sign-on: organisations sign a joint letter through `capitolmail serve`'s form.

The web routes (web/sign_on.py) only parse and present; what a signature is, how
it is checked, confirmed (double opt-in), reviewed and folded into the letter's
signer list lives here, so the command line and the form share every rule.
"""

"""The kinds of letter: each decides who gets it and what its templates see."""

"""capitolmail: joint letters to Congress and supporter action alerts."""

__version__ = "0.1.0"

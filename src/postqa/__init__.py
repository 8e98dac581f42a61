"""postqa: answers questions about China Post news with cited passages, offline."""

__version__ = "0.1.0"

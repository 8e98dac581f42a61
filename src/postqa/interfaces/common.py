"""What every command shares: settings from the command's flags, argument types."""

from __future__ import annotations

import argparse
from typing import Any

from postqa.core.config import Settings, load_settings


def positive_int(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not allowed; give a number of at least 1")
    return n


def load_cli_settings(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings for a command: its flags (and `extra` overrides) over env, file and defaults."""
    overrides = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "embedding_model", None):
        overrides["embedding.model"] = args.embedding_model
    return load_settings(args.config, overrides=overrides or None)

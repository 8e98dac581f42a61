"""The web chat: `python app.py [--host H] [--port N] [--config F]`, the same as `postqa serve`.

Thin on purpose: parse the flags, load the settings, hand over to postqa.interfaces.web (which calls the Assistant
and renders its Answer). Host, port, logins and the config file come from postqa.toml, POSTQA_* variables
or these flags.
"""

from __future__ import annotations

import argparse
import sys

from postqa.core.errors import PostqaError
from postqa.interfaces.web import add_serve_arguments, serve, settings_from_args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="postqa web chat")
    parser.add_argument("--config", metavar="FILE", 
                        help="config file (default: ./postqa.toml or $POSTQA_CONFIG)")
    parser.add_argument("--embedding-model", metavar="NAME_OR_PATH", help="override [embedding] model")
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        serve(settings_from_args(args))
    except PostqaError as err:
        print(f"postqa: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

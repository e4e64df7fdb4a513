"""The ``checkpointing`` command: list, total, clear, prune, verify and explain a cache.

This sub-package is imported only by the console script and ``python -m checkpointing``:
``import checkpointing`` never imports click, rich or humanfriendly. Commands work on any
cache the library can open (a directory by default ``.checkpointing/``, or
``--cache PATH_OR_URL`` / ``CHECKPOINTING_CACHE``) through the public cache API
(``entries``, ``delete``, ``clear``, ``check_entry``). Exit codes are listed in
:mod:`checkpointing.cli._open`.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Run the command line (the console script's entry point)."""
    from checkpointing.cli.commands import cli

    cli(prog_name="checkpointing")

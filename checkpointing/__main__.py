"""``python -m checkpointing``: the command-line tool (see :mod:`checkpointing.cli`)."""

from checkpointing.cli import main

if __name__ == "__main__":
    main()

"""The child process behind one measurement: ``python -m benchmarks.worker REQUEST``.

A fresh process per library and case means each starts as a user's program does:
nothing imported or memoised by another case, no memory left fragmented by a 1 GB array.

The protocol, one JSON object per line: the worker prepares the probe the request (JSON,
see ``runner``) describes and answers ``{"ready": number}``; then each ``sample`` line
on its standard input gets ``{"value": seconds}``, and ``finish`` gets
``{"extra": {...}}`` before the worker exits. Any failure is answered with
``{"error": message}``. Replies go to the original standard output; whatever a library
prints is redirected to standard error so it cannot corrupt them.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any, TextIO

from benchmarks.cases import CASES
from benchmarks.floor import FLOORS
from benchmarks.libraries import LIBRARIES
from benchmarks.plan import Plan
from benchmarks.timing import Probe

__all__ = ["main", "prepare"]


def prepare(request: dict[str, Any]) -> Probe:
    """Prepare the measurement ``request`` describes."""
    plan = Plan.from_dict(request["plan"])
    name, workdir = str(request["name"]), str(request["workdir"])
    if request["kind"] == "floor":
        return FLOORS[name].prepare(plan, workdir)
    return CASES[name].prepare(LIBRARIES[request["library"]], plan, workdir)


def _reply(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def main(argv: list[str]) -> int:
    """Serve the request in ``argv[1]`` until ``finish``; exit 1 after a failure."""
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        probe = prepare(json.loads(argv[1]))
        _reply(channel, {"ready": probe.number})
        for line in sys.stdin:
            if line.strip() == "sample":
                _reply(channel, {"value": probe.take()})
            elif line.strip() == "finish":
                _reply(channel, {"extra": probe.finish()})
                return 0
    except Exception as exc:  # noqa: BLE001 - any failure is reported to the runner
        traceback.print_exc()
        _reply(channel, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    return 1  # the runner went away without asking to finish


if __name__ == "__main__":
    sys.exit(main(sys.argv))

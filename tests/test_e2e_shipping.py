"""End to end: a checkpointed function shipped by value (cloudpickle) to another process.

dask, ray and loky pickle functions defined in ``__main__`` by value. The receiving
process must run the function (never hand back an internal marker) and key its calls as
the sender does, so results computed on either side are hits on the other.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scriptcase import Step, run_steps

pytestmark = pytest.mark.slow

# Sends the pickled function to `python -c RECEIVER` and prints what it printed.
_SEND = """
import subprocess, sys
import cloudpickle

def ship(function, *calls):
    receiver = (
        "import pickle, sys\\n"
        "f = pickle.loads(sys.stdin.buffer.read())\\n"
        f"for x in {list(calls)!r}: print('got', f(x))\\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", receiver], input=cloudpickle.dumps(function),
        capture_output=True, check=False,
    )
    print(done.stdout.decode(), end="")
    print(done.stderr.decode(), end="", file=sys.stderr)
"""

_FUNCTIONS = """
from checkpointing import checkpoint

OFFSET = 1

class Scaler:
    factor = 3

    def apply(self, x):
        return x * self.factor

def helper(x):
    return Scaler().apply(x) + OFFSET

@checkpoint()
def foo(x):
    print("Running", x)
    return helper(x)
"""


def test_shipped_function_runs_and_shares_keys_with_the_sender(tmp_path: Path) -> None:
    """A cloudpickled checkpointed function returns real results and hits the sender's entries."""
    run_steps(
        tmp_path,
        Step(
            _SEND + _FUNCTIONS + "print(foo(2))\nship(foo, 2, 5, 5)\n",
            "Running 2\n7\ngot 7\nRunning 5\ngot 16\ngot 16\n",
        ),
        # A new sender process hits what the receiver stored.
        Step(_SEND + _FUNCTIONS + "print(foo(5))\n", "16\n"),
    )


def test_shipped_function_sees_edits_of_its_helpers(tmp_path: Path) -> None:
    """After editing a helper the sender ships, the receiver recomputes instead of a stale hit."""
    edited = _FUNCTIONS.replace("factor = 3", "factor = 4")
    run_steps(
        tmp_path,
        Step(_SEND + _FUNCTIONS + "ship(foo, 2)\n", "Running 2\ngot 7\n"),
        Step(_SEND + edited + "ship(foo, 2)\n", "Running 2\ngot 9\n"),
        Step(_SEND + edited + "print(foo(2))\n", "9\n"),
    )


def test_function_calling_a_checkpointed_one_can_be_shipped(tmp_path: Path) -> None:
    """A plain function that calls a checkpointed one travels too, and its calls hit."""
    script = _SEND + _FUNCTIONS + "def outer(x):\n    return foo(x) * 10\n"
    run_steps(
        tmp_path,
        Step(script + "print(outer(2))\nship(outer, 2)\n", "Running 2\n70\ngot 70\n"),
    )

"""A decorator under ``@checkpoint()``: bind against what is called, the wrapper's code counts.

Each case runs a script, edits it, and runs it again in a new process (issue 7 item 4).
A wrapper made with ``functools.wraps`` claims the inner function's signature through
``__wrapped__``; the key must follow the wrapper's own parameters and defaults, and an
edit of the wrapper's code must be seen.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scriptcase import Step, check_case, run_steps

pytestmark = pytest.mark.slow

DECORATOR = """
import functools

def with_scale(func):
    @functools.wraps(func)
    def wrapper(x, scale=2):
        return func(x) * scale
    return wrapper
"""


def test_wrapper_default_edit_reruns(tmp_path: Path) -> None:
    """Editing the default of a parameter the wrapper adds changes the result: re-run."""
    script = (
        "from checkpointing import checkpoint\n"
        + DECORATOR
        + """
@checkpoint()
@with_scale
def f(x):
    print("Running", x)
    return x + 1

print(f(1))
"""
    )
    check_case(
        tmp_path, script, "Running 1\n4\n", script.replace("scale=2", "scale=3"), "Running 1\n6\n"
    )


def test_wrapper_parameter_by_keyword_is_in_the_key(tmp_path: Path) -> None:
    """An argument only the wrapper accepts (``scale=``) is bound and keyed, not refused."""
    script = (
        "from checkpointing import checkpoint\n"
        + DECORATOR
        + """
@checkpoint()
@with_scale
def f(x):
    print("Running", x)
    return x + 1

print(f(1, scale=5))
print(f(1, scale=5))
print(f(1, 10))
print(f(1))
"""
    )
    run_steps(tmp_path, Step(script, "Running 1\n10\n10\nRunning 1\n20\nRunning 1\n4\n"))


def test_wrapper_code_edit_reruns(tmp_path: Path) -> None:
    """Editing the wrapper's body (not the decorated function) is seen: re-run."""
    before = (
        "from checkpointing import checkpoint\n"
        + DECORATOR
        + """
@checkpoint()
@with_scale
def f(x):
    print("Running", x)
    return x + 1

print(f(2))
"""
    )
    after = before.replace("return func(x) * scale", "return func(x) * scale + 100")
    check_case(tmp_path, before, "Running 2\n6\n", after, "Running 2\n106\n")


def test_wrapper_in_another_module_is_followed(tmp_path: Path) -> None:
    """A decorator imported from a project module: editing its default is seen."""
    helpers = DECORATOR
    script = """
from checkpointing import checkpoint
from helpers import with_scale

@checkpoint()
@with_scale
def f(x):
    print("Running", x)
    return x * 10

print(f(1))
"""
    run_steps(
        tmp_path,
        Step(script, "Running 1\n20\n", files={"helpers.py": helpers}),
        Step(script, "20\n"),
        Step(
            script, "Running 1\n70\n", files={"helpers.py": helpers.replace("scale=2", "scale=7")}
        ),
    )


def test_decorator_factory_argument_edit_reruns(tmp_path: Path) -> None:
    """``@times(3)`` -> ``@times(4)``: the value the wrapper closes over is in the key."""
    before = """
import functools
from checkpointing import checkpoint

def times(k):
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs) * k
        return wrapper
    return decorate

@checkpoint()
@times(3)
def f(x, y=1):
    print("Running", x, y)
    return x + y

print(f(1))
print(f(1, y=1))
"""
    check_case(
        tmp_path,
        before,
        "Running 1 1\n6\nRunning 1 1\n6\n",
        before.replace("@times(3)", "@times(4)"),
        "Running 1 1\n8\nRunning 1 1\n8\n",
    )


def test_unchanged_wrapped_function_hits(tmp_path: Path) -> None:
    """Nothing edited but comments: the wrapped function is a hit in a new process."""
    script = (
        "from checkpointing import checkpoint\n"
        + DECORATOR
        + """
@checkpoint()
@with_scale
def f(x):
    print("Running", x)
    return x + 1

print(f(4, scale=2))
"""
    )
    edited = script.replace("def f(x):", "def f(x):  # a comment")
    check_case(tmp_path, script, "Running 4\n10\n", edited, "10\n")

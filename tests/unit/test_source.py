"""Reading a function's source from its file gives the text ``inspect.getsource`` gives."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import email.message
import gc
import inspect
import json
import textwrap
from types import FunctionType
from typing import Any

from checkpointing._source import find_source

MODULES = (argparse, asyncio, dataclasses, email.message, json, textwrap, inspect)


def inspect_source(func: FunctionType) -> str | None:
    """What inspect finds for the function's code, the reference."""
    try:
        return inspect.getsource(func.__code__)
    except (OSError, TypeError, IndentationError, SyntaxError):
        return None


def test_every_loaded_function_gets_the_text_inspect_gives() -> None:
    """Thousands of functions (decorated, nested, lambdas, methods) read the same either way."""
    assert MODULES  # imported so that their functions are among the objects below
    names = tuple(module.__name__ for module in MODULES)
    functions = [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, FunctionType) and str(obj.__module__).startswith(names)
    ]
    assert len(functions) > 500
    different = [f for f in functions if find_source(f) != inspect_source(f)]
    assert different == []


def test_decorated_nested_and_lambda_sources() -> None:
    """The block starts at the first decorator; a lambda's line is its source."""

    def decorate(func: Any) -> Any:
        return func

    @decorate
    @decorate
    def nested(x: int) -> int:
        text = """a string whose second line
is at column zero"""
        return x + len(text)

    square = lambda x: x * x  # noqa: E731 - the lambda is the subject

    assert isinstance(nested, FunctionType)
    assert isinstance(square, FunctionType)
    nested_source = find_source(nested)
    assert nested_source is not None
    assert nested_source.lstrip().startswith("@decorate\n")
    assert nested_source.rstrip().endswith("return x + len(text)")
    assert (
        find_source(square)
        == "    square = lambda x: x * x  # noqa: E731 - the lambda is the subject\n"
    )


def test_code_without_a_file_has_no_source() -> None:
    """Functions made by exec have no file: no source rather than the wrong text."""
    namespace: dict[str, object] = {}
    exec("def made(x):\n    return x\n", namespace)
    made = namespace["made"]
    assert isinstance(made, FunctionType)
    assert find_source(made) is None


def test_a_line_number_past_the_end_of_the_file_gives_no_source() -> None:
    """A code object pointing past the end of its file (edited since) has no source."""

    def f() -> int:
        return 1

    moved = FunctionType(f.__code__.replace(co_firstlineno=10_000), f.__globals__, "moved")
    assert find_source(moved) is None

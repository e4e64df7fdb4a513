"""What IPython's own syntax in a cell runs: shell escapes, line and cell magics.

After IPython's transformation ``!cmd``, ``x = !cmd``, ``%magic args`` and a nested
``%%magic`` are plain calls ``get_ipython().system(...)``, ``getoutput``,
``run_line_magic`` and ``run_cell_magic`` with constant strings. Those strings matter to
the cell analysis in two ways: IPython expands ``$name`` and ``{expr}`` in them before
running them (so those names are read), and a magic such as ``%time`` or ``%%timeit``
runs its text as Python code (so that code's reads count too). This module finds both;
the analysis (:mod:`ipython_ext.cell.analysis`) records what they read.
"""

from __future__ import annotations

import ast
import contextlib
import re
import string
from dataclasses import dataclass

__all__ = ["NestedRun", "expansions", "nested_run"]

_DOLLAR_NAME = re.compile(r"\$\$?([A-Za-z_]\w*)")
_NESTED_RUNNERS = frozenset({"system", "getoutput", "run_line_magic", "run_cell_magic"})


@dataclass(frozen=True, slots=True)
class NestedRun:
    """A command or magic a cell runs through ``get_ipython()``.

    ``expanded``: the text IPython expands ``$name`` and ``{expr}`` in (``None`` if not a
    constant). ``code``: the text the magic may run as Python (the line magic's arguments,
    the nested cell magic's body), ``None`` for a shell command. ``cell_body``: ``code``
    is a cell magic's body, which needs IPython's transformation before it parses.
    """

    expanded: object
    code: object = None
    cell_body: bool = False


def nested_run(node: ast.Call) -> NestedRun | None:
    """Return what ``node`` runs if it is ``get_ipython().m(...)`` for a command or magic."""
    method = _ipython_call(node)
    if method is None:
        return None
    texts = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
    if method in ("system", "getoutput"):
        return NestedRun(texts[0] if texts else None)
    if method == "run_line_magic" and len(texts) >= 2:
        return NestedRun(texts[1], texts[1])
    if method == "run_cell_magic" and len(texts) >= 3:
        return NestedRun(texts[1], texts[2], cell_body=True)
    return None


def expansions(text: object) -> tuple[list[str], list[ast.expr]]:
    """Return the names in ``$name`` and the parsed ``{expr}`` IPython expands in ``text``."""
    if not isinstance(text, str):
        return [], []
    names = _DOLLAR_NAME.findall(text)
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f]
    except ValueError:
        return names, []
    expressions: list[ast.expr] = []
    for text_field in fields:
        with contextlib.suppress(SyntaxError, ValueError):
            expressions.append(ast.parse(text_field, mode="eval").body)
    return names, expressions


def _ipython_call(node: ast.Call) -> str | None:
    """Return ``m`` if ``node`` is ``get_ipython().m(...)`` for a command or magic runner."""
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in _NESTED_RUNNERS
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
    ):
        return func.attr
    return None

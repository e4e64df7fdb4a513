"""Names a cell reads through strings it passes to ``eval``, ``exec`` or ``globals()``.

``y = eval("K * 2")`` and ``y = globals()["K"]`` read ``K`` though no ``Name`` node says
so. When the string is a constant, what it reads is known before the cell runs: the
code is analysed like the body of a nested magic, and the name looked up is an input.
A string computed at run time stays unknown (the notebook guide says to name such
inputs with ``--inputs``).
"""

from __future__ import annotations

import ast

__all__ = ["code_evaluated", "name_looked_up"]

_RUNNERS = frozenset({"eval", "exec"})
# Methods of the dict ``globals()`` returns that read one entry by its key.
_READERS = frozenset({"get", "__getitem__", "setdefault", "pop", "__contains__"})


def code_evaluated(node: ast.Call) -> str | None:
    """Return the constant code ``eval("...")`` or ``exec("...")`` runs, if that is the call."""
    func = node.func
    if isinstance(func, ast.Name) and func.id in _RUNNERS and node.args:
        return _constant_text(node.args[0])
    return None


def name_looked_up(node: ast.Call | ast.Subscript) -> str | None:
    """Return the name ``globals()["K"]`` or ``globals().get("K")`` reads, if constant."""
    if isinstance(node, ast.Subscript):
        if isinstance(node.ctx, ast.Load) and _is_globals_call(node.value):
            return _constant_text(node.slice)
        return None
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in _READERS
        and _is_globals_call(func.value)
        and node.args
    ):
        return _constant_text(node.args[0])
    return None


def _is_globals_call(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "globals"
        and not node.args
        and not node.keywords
    )


def _constant_text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None

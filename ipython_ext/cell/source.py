"""The cell's code as ``%%checkpoint`` keys and names it: parsed, normalized and labelled.

The normalized code is part of the cell's key, so it keeps everything that can change
what the cell does (names included: the cell binds them in the user's namespace) and
drops only what cannot (docstrings nobody reads, annotations). The label is the short
text that names the cell in warnings and cache listings.
"""

from __future__ import annotations

import ast
import re

from checkpointing.hooks import observed_attributes, simplify

__all__ = ["cell_label", "normalized_cell_code", "parse_cell"]

_LABEL_LIMIT = 40
_IMPORT_LINE = re.compile(r"(import|from)\s+[\w.]+")


def parse_cell(source: str) -> ast.Module:
    """Parse the (transformed) cell ``source``; raise ``SyntaxError`` if it does not parse."""
    # IPython runs cells with top-level ``await`` (autoawait): accept it here too.
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree: ast.Module = compile(source, "<cell>", "exec", flags, dont_inherit=True)
    return tree


def normalized_cell_code(source: str) -> str:
    """Return the cell's syntax tree without docstrings or annotations, as text.

    Names are kept (unlike a function's normalization): the cell binds them in the
    user's namespace, so renaming a variable changes what the cell does. Class-body
    annotations, signature annotations of decorated functions and (where the cell reads
    ``__doc__``) docstrings stay: they can change what the cell does.
    """
    tree = parse_cell(source)
    simplify(tree, keep_docstrings="__doc__" in observed_attributes(tree))
    return ast.dump(tree, annotate_fields=True, include_attributes=False)


def cell_label(body: str) -> str:
    """Return the first line of ``body`` that does work (not blank, a comment, an import).

    A cell made only of imports is labelled by its first line of code.
    """
    lines = body.splitlines()
    first = _first_working_line(body)
    candidates = ([lines[first]] if first is not None else []) + lines
    for line in candidates:
        text = line.strip()
        if text and not text.startswith("#"):
            break
    else:
        return "(empty cell)"
    if len(text) > _LABEL_LIMIT:
        text = text[: _LABEL_LIMIT - 1].rstrip() + "…"
    return text


def _first_working_line(body: str) -> int | None:
    """Return the index of the line where the first statement other than an import starts."""
    try:
        tree = ast.parse(body)
    except (SyntaxError, ValueError):  # magics and shell escapes: no statement structure
        return _first_line_not_import(body.splitlines())
    for statement in tree.body:
        if not isinstance(statement, ast.Import | ast.ImportFrom):
            return statement.lineno - 1
    return None


def _first_line_not_import(lines: list[str]) -> int | None:
    """Return the index of the first code line that does not start an import (by its text)."""
    for index, line in enumerate(lines):
        text = line.strip()
        if text and not text.startswith("#") and not _IMPORT_LINE.match(text):
            return index
    return None

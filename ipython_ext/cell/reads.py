"""What a cell reads beyond plain names: attribute chains and IPython's history tables.

The cell analysis lists the names a cell reads; the key also needs *how* some of them
are read:

* attribute chains on a name (``settings.SCALE``, ``np.random.rand``, ``math.sqrt``):
  through a library module they reach values the module's own identity (name and
  version) does not cover: a setting or a function the notebook put there, and the
  library states the cell uses (see :mod:`checkpointing._ambient`);
* IPython's history tables ``Out``/``_oh``/``In``/``_ih`` indexed by a constant
  (``Out[3]``): the entries read are inputs, not the whole table.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ipython_ext.cell.source import parse_cell

__all__ = ["HISTORY_TABLES", "CellReads", "cell_reads"]

# IPython's history tables: name -> True for output tables (dicts keyed by prompt number).
HISTORY_TABLES = frozenset({"Out", "_oh", "In", "_ih"})


@dataclass(frozen=True)
class CellReads:
    """Attribute chains read from each name, and the history table entries read.

    ``entries[table]`` is the set of constant indices read, or ``None`` when the table
    is used some other way (then the whole table is an input).
    """

    chains: dict[str, frozenset[tuple[str, ...]]] = field(default_factory=dict)
    entries: dict[str, frozenset[int] | None] = field(default_factory=dict)


def cell_reads(source: str) -> CellReads:
    """Return the attribute chains and history entries the (transformed) cell reads."""
    try:
        tree = parse_cell(source)
    except SyntaxError:
        return CellReads()
    chains: dict[str, set[tuple[str, ...]]] = {}
    indexed: dict[str, set[int]] = {}
    whole: set[str] = set()
    consumed: set[int] = set()  # ids of Name nodes read as ``Out[<int>]``
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            base, chain = _chain(node)
            if base is not None:
                chains.setdefault(base, set()).add(chain)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id in HISTORY_TABLES
        ):
            index = node.slice
            if isinstance(index, ast.Constant) and type(index.value) is int:
                indexed.setdefault(node.value.id, set()).add(index.value)
                consumed.add(id(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in HISTORY_TABLES and id(node) not in consumed:
            whole.add(node.id)
    entries: dict[str, frozenset[int] | None] = {
        table: None if table in whole else frozenset(indexed.get(table, ()))
        for table in (whole | set(indexed))
    }
    return CellReads({name: frozenset(found) for name, found in chains.items()}, entries)


def _chain(node: ast.Attribute) -> tuple[str | None, tuple[str, ...]]:
    """Return the base name and attribute chain of ``a.b.c`` (``None`` if not on a name)."""
    attrs: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        attrs.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        return None, ()
    return current.id, tuple(reversed(attrs))

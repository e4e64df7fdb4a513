"""Put a stored cell run back on a hit, as the run would have left it.

A hit imports the modules the cell imported (``import urllib.request`` binds ``urllib``
with its submodule loaded), runs the definition statements again in cell order (only if
each is still the statement that was stored: the key ignores some edits), puts the
variables back (objects that existed before keep their identity and get their new
contents written in place, :mod:`ipython_ext.cell.references`), sets the attributes
(:mod:`ipython_ext.cell.shared_state`) and library states (:mod:`ipython_ext.cell.ambient`)
again, and deletes what the run deleted. Anything that fails raises :class:`RestoreError`
and the cell runs instead. What is stored is built by :mod:`ipython_ext.cell.storing`.
"""

from __future__ import annotations

import ast
import importlib
from typing import Any

from ipython_ext.cell import ambient
from ipython_ext.cell.pickling import Unpickler
from ipython_ext.cell.plan import Plan
from ipython_ext.cell.references import resolve, write_state
from ipython_ext.cell.shared_state import apply_chains
from ipython_ext.cell.source import parse_cell
from ipython_ext.cell.stored import CONTAINERS, RestoreError, StoredCell, statement_text

__all__ = ["restore"]


def restore(shell: Any, entry: StoredCell, plan: Plan) -> tuple[Any, list[str]]:
    """Put back what the run left; return the last value and the states not restored."""
    ns = shell.user_ns
    tree = parse_cell(plan.source)
    # Register the cell text as IPython does, so tracebacks and inspect find it.
    filename = shell.compile.cache(plan.source, shell.execution_count, raw_code=plan.body)

    def run_definition(index: int, reads: dict[str, Any]) -> dict[str, Any]:
        statement = tree.body[index]
        module = ast.Module(body=[statement], type_ignores=[])
        code = compile(module, filename, "exec", shell.compile.flags, dont_inherit=True)
        ns.update(reads)  # what the statement saw when it ran
        exec(code, shell.user_global_ns, ns)
        return {name: ns[name] for name in _bound(statement) if name in ns}

    makers = {kind.__name__: kind for kind in CONTAINERS}
    for index, text in entry.statements:
        # The key ignores some edits (a docstring): never run a statement that moved.
        if index >= len(tree.body) or statement_text(tree.body[index]) != text:
            raise RestoreError("the cell's statements moved since it was stored")
    try:
        for module in entry.imports:
            importlib.import_module(module)
        for name, kind in entry.containers:
            if name not in ns:
                ns[name] = makers[kind]()
        existing = [resolve(ns, path) for path in entry.references]
        old = {name: ns[name] for name in entry.rebind if name in ns}
        unpickler = Unpickler(entry.variables, entry.buffers, run_definition, existing)
        payload = unpickler.load()
    except Exception as exc:
        raise RestoreError(f"{type(exc).__name__}: {exc}") from exc
    try:
        for target, state in unpickler.writes:
            write_state(target, state)
        ns.update(payload["variables"])
        for target, attribute, item in payload["attributes"]:
            setattr(target, attribute, item)
        apply_chains(payload["chains"])
    except Exception as exc:
        raise RestoreError(f"{type(exc).__name__}: {exc}") from exc
    not_restored = ambient.write_changes(payload["ambient"])
    for name, previous in old.items():
        # Other names pointed to the object the run changed: point them to its new value.
        for other, item in list(ns.items()):
            if item is previous and other != name:
                ns[other] = ns[name]
    for name in entry.deleted:
        ns.pop(name, None)
    return payload.get("last"), not_restored


def _bound(statement: ast.stmt) -> list[str]:
    """Return the names a top-level definition statement binds."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [statement.name]
    if isinstance(statement, ast.Assign):
        return [t.id for t in statement.targets if isinstance(t, ast.Name)]
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return [statement.target.id]
    return []

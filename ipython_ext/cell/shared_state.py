"""State a cell changes outside its variables: attributes of modules, classes and functions.

Pickle stores modules, classes and functions by name, so a change made to them would be
lost on a hit. Three kinds of such change are found and stored with the cell:

* attributes set on a module or a library object, seen in the cell's assignments
  (``pd.options.display.max_rows = 5``, ``plt.rcParams["figure.dpi"] = 80``,
  ``settings.SCALE = 4``, also through another name: ``opts = pd.options``): stored as the
  module, the path from it and the final value, and set again on a hit;
* attributes of the user's classes and functions, when the cell assigns to them or their
  hash shows they changed (``Config.items.append(1)``): stored and set again;
* library states changed through calls (``np.random.seed``): see
  :mod:`ipython_ext.cell.ambient`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from collections.abc import Iterator
from types import FunctionType, ModuleType
from typing import Any

from ipython_ext.cell.references import Step

__all__ = [
    "Chain",
    "apply_chains",
    "assigned_chains",
    "module_chains",
    "own_attributes",
]

# (module name, steps from the module, final value)
Chain = tuple[str, tuple[Step, ...], Any]
_KEYS = (int, str, bytes, float, bool, type(None))


def assigned_chains(tree: ast.Module) -> list[tuple[str, tuple[Step, ...]]]:
    """Return ``(name, steps)`` for each ``name.a[k].b = ...`` assigned in the cell's code.

    Function and class bodies are skipped (they run later, or not at all); only constant
    subscripts are followed.
    """
    found: list[tuple[str, tuple[Step, ...]]] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in _flatten(targets):
            chain = _chain(target)
            if chain is not None and chain not in found:
                found.append(chain)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _flatten(targets: list[ast.expr]) -> Iterator[ast.expr]:
    for target in targets:
        if isinstance(target, ast.Tuple | ast.List):
            yield from _flatten(list(target.elts))
        elif isinstance(target, ast.Starred):
            yield target.value
        else:
            yield target


def _chain(node: ast.expr) -> tuple[str, tuple[Step, ...]] | None:
    steps: list[Step] = []
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute):
            steps.append(("a", node.attr))
        elif isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, _KEYS):
            steps.append(("k", node.slice.value))
        else:
            return None
        node = node.value
    if not steps or not isinstance(node, ast.Name):
        return None
    return node.id, tuple(reversed(steps))


def module_chains(
    ns: dict[str, Any], chains: list[tuple[str, tuple[Step, ...]]], skip: set[str]
) -> list[Chain]:
    """Return the chains that start at a module or a library object, with final values.

    ``skip`` are names whose objects are stored in other ways (the user's classes and
    functions, data). A chain whose value cannot be read (an assignment in a branch not
    taken) is left out.
    """
    found: list[Chain] = []
    owners: dict[int, tuple[str, str]] | None = None
    for name, steps in chains:
        if name in skip or name not in ns:
            continue
        base = ns[name]
        prefix: tuple[Step, ...] = ()
        if isinstance(base, ModuleType):
            root = base.__name__
        elif _library_object(base):
            if owners is None:
                owners = _module_attributes()
            owner = owners.get(id(base))
            if owner is None:
                continue
            root, prefix = owner[0], (("a", owner[1]),)
        else:
            continue
        try:
            value = _follow(base, steps)
        except (LookupError, AttributeError, TypeError):
            continue
        found.append((root, (*prefix, *steps), value))
    return found


def _library_object(value: object) -> bool:
    """Tell whether ``value`` may be an object a library keeps (not the user's data)."""
    kind = type(value)
    if kind.__module__ in ("builtins", "__main__") or isinstance(value, type):
        return False
    return not hasattr(value, "shape")  # arrays and frames are data


def _module_attributes() -> dict[int, tuple[str, str]]:
    """Map the id of every module attribute to ``(module, attribute)``."""
    found: dict[int, tuple[str, str]] = {}
    for module_name, module in sorted(sys.modules.items(), key=lambda item: len(item[0])):
        attributes = getattr(module, "__dict__", None)
        if not isinstance(attributes, dict):
            continue
        for attribute, value in list(attributes.items()):
            if not isinstance(value, ModuleType | type | FunctionType | int | str | float):
                found.setdefault(id(value), (module_name, attribute))
    return found


def _follow(value: Any, steps: tuple[Step, ...]) -> Any:
    for kind, key in steps:
        value = getattr(value, key) if kind == "a" else value[key]
    return value


def apply_chains(chains: list[Chain]) -> None:
    """Set each chain's final value again, importing its module if needed."""
    for module, steps, value in chains:
        parent = _follow(importlib.import_module(module), steps[:-1])
        kind, key = steps[-1]
        if kind == "a":
            setattr(parent, key, value)
        else:
            parent[key] = value


def own_attributes(value: Any) -> dict[str, Any]:
    """Return the attributes of a user's class or function that a restore sets again.

    Dunder names are the definition's own; a class's methods come back with it.
    """
    found: dict[str, Any] = {}
    for name, item in vars(value).items():
        if name.startswith("__") and name.endswith("__"):
            continue
        if isinstance(value, type) and _defined_with(value, item):
            continue
        found[name] = item
    return found


def _defined_with(cls: type, item: Any) -> bool:
    """Tell whether ``item`` comes back when the class is defined again (a member, not data).

    Methods, properties, static and class methods, nested classes and enum members do;
    functions assigned from outside (``Config.hook = f``) do not.
    """
    if isinstance(item, cls):
        return True  # an enum member
    function = getattr(item, "__func__", item)
    qualname = getattr(function, "__qualname__", None)
    if isinstance(qualname, str) and qualname.startswith(cls.__qualname__ + "."):
        return True
    return hasattr(type(item), "__get__") and not inspect.isfunction(item)

"""The standard library's own modules for checkpointing's use, even when a project shadows them.

A script run from a project that has a package called ``json`` puts that package in
``sys.modules`` under the standard library's name, and a later ``import json`` inside
checkpointing would get it. The project's package is the user's code (followed by content,
see ``_classify``); checkpointing itself still needs the real module for its own work. This
module finds the real one, and when the name is taken, loads a private copy of it,
leaving the user's ``sys.modules`` entries as they were.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
from types import ModuleType

__all__ = ["stdlib_module"]

_copies: dict[str, ModuleType] = {}


def _stdlib_directory() -> str:
    return os.path.join(os.path.realpath(sysconfig.get_paths()["stdlib"]), "")


def _from_stdlib(origin: str | None) -> bool:
    """Tell whether a module file lies in the interpreter's standard library (or is built in)."""
    if origin is None or origin in ("built-in", "frozen"):
        return True
    return os.path.realpath(origin).startswith(_stdlib_directory())


def stdlib_module(name: str) -> ModuleType:
    """Return the standard library's module ``name`` (top-level), never a project's namesake."""
    module = sys.modules.get(name)
    if module is not None and _from_stdlib(getattr(module, "__file__", None)):
        return module
    if module is None:
        spec = importlib.util.find_spec(name)  # finds without importing
        if spec is not None and _from_stdlib(spec.origin):
            return importlib.import_module(name)
    copy = _copies.get(name)
    if copy is None:
        copy = _copies[name] = _load_private_copy(name)
    return copy


def _load_private_copy(name: str) -> ModuleType:
    """Load the standard library's ``name`` again, from its own directory, for our use only.

    The modules of such a package import each other by absolute name (``from json import
    scanner``), so the copy is loaded under the real name with the project's modules set
    aside for that moment, then the user's ``sys.modules`` entries are put back; the copy
    keeps its submodules through its own attributes.
    """
    found = importlib.machinery.PathFinder.find_spec(name, [sysconfig.get_paths()["stdlib"]])
    if found is None or found.loader is None:
        raise ImportError(f"the standard library has no module {name!r}")
    prefix = name + "."
    users = {
        key: value for key, value in sys.modules.items() if key == name or key.startswith(prefix)
    }
    for key in users:
        del sys.modules[key]
    try:
        module = importlib.util.module_from_spec(found)
        sys.modules[name] = module
        found.loader.exec_module(module)
    finally:
        for key in [key for key in sys.modules if key == name or key.startswith(prefix)]:
            del sys.modules[key]
        sys.modules.update(users)
    return module

"""What import statements in a function or cell bind, read when a call is keyed.

The scope analysis (:mod:`checkpointing._scope`) finds import statements in source;
:func:`code_imports` finds them in bytecode for functions without source. A profile
turns each into a spec (``module`` or ``module:attribute``, absolute) that
:func:`read_import` reads at call time: a ``sys.modules`` lookup once the module is
loaded. A module not loaded yet is imported, as the function's own statement would
import it, so the key is the same before and after the first run.
"""

from __future__ import annotations

import dis
import importlib
import sys
from types import CodeType, ModuleType

import xxhash

from checkpointing._classify import is_user_module
from checkpointing._scope import ImportBinding

__all__ = [
    "IMPORTED",
    "code_imports",
    "module_file_digest",
    "read_import",
    "read_imported",
]


def code_imports(code: CodeType) -> tuple[tuple[ImportBinding, tuple[str, ...]], ...]:
    """Return what the import statements in ``code`` (or code nested in it) bind.

    The bytecode counterpart of the import bindings :func:`analyse_scopes` records, for
    functions without source (``python -c``, ``exec``): ``IMPORT_NAME`` takes the level
    and the names imported ``from`` the module from the two constants loaded before it.
    A module stored in a local and read with attributes (``helpers.f``) adds that chain.
    """
    found: dict[tuple[ImportBinding, tuple[str, ...]], None] = {}
    stack = [code]
    while stack:
        current = stack.pop(0)
        instructions = list(dis.get_instructions(current))
        locals_bound: dict[str, ImportBinding] = {}
        for index, instruction in enumerate(instructions):
            if instruction.opname != "IMPORT_NAME" or index < 2:
                continue
            level_load, names_load = instructions[index - 2], instructions[index - 1]
            if level_load.opname != "LOAD_CONST" or names_load.opname != "LOAD_CONST":
                continue
            module, level, names = str(instruction.argval), level_load.argval, names_load.argval
            if not isinstance(level, int):
                continue
            if isinstance(names, tuple) and names:
                for name in names:
                    if name != "*":
                        found.setdefault((ImportBinding(module, level, str(name)), ()))
                continue
            binding = ImportBinding(module, level, None)
            found.setdefault((binding, ()))
            after = instructions[index + 1] if index + 1 < len(instructions) else None
            if after is not None and after.opname in _STORES and "." not in module:
                locals_bound[str(after.argval)] = binding
        for index, instruction in enumerate(instructions):
            if instruction.opname in _LOADS and instruction.argval in locals_bound:
                chain = []
                for following in instructions[index + 1 :]:
                    if following.opname not in ("LOAD_ATTR", "LOAD_METHOD"):
                        break
                    chain.append(str(following.argval))
                if chain:
                    found.setdefault((locals_bound[instruction.argval], tuple(chain)))
        stack.extend(c for c in current.co_consts if isinstance(c, CodeType))
    return tuple(found)


_STORES = frozenset({"STORE_FAST", "STORE_DEREF", "STORE_NAME", "STORE_GLOBAL"})
_LOADS = frozenset({"LOAD_FAST", "LOAD_DEREF", "LOAD_NAME", "LOAD_GLOBAL", "LOAD_CLOSURE"})


# The plan entry kind (in place of a closure cell index) of a value bound by an import.
IMPORTED = -2
# Stands for a module that cannot be imported: a plain string, the same in every process.
_MISSING = "\x00checkpointing:missing-module:"
_failed_imports: dict[str, list[str]] = {}
_OWN = ("checkpointing", "ipython_ext")  # this tool's packages are never user code


def module_file_digest(spec: str) -> str:
    """Return a digest of the source file of the module ``spec`` names (or ``""``).

    The fallback identity of a user module whose imported value cannot be hashed:
    edits to that file are still seen.
    """
    module = sys.modules.get(spec.partition(":")[0])
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        return ""
    try:
        with open(path, "rb") as handle:
            return xxhash.xxh3_128_hexdigest(handle.read())
    except OSError:
        return ""


def read_import(spec: str) -> object:
    """Return what an import statement with ``spec`` (``module`` or ``module:attr``) binds.

    A loaded module is a ``sys.modules`` lookup. A module not loaded yet is imported,
    exactly as the function's own import statement would do when it runs, so the key is
    the same before and after the first run; an import that fails counts as a missing
    module (``try: import x`` / ``except ImportError``) and is not retried unless
    ``sys.path`` changes. From a library module the module itself is returned (its
    version identifies what it provides); from the user's code, the attribute itself.
    """
    module_name, _, attribute = spec.partition(":")
    module = sys.modules.get(module_name)
    if module is None:
        module = _import(module_name)
        if module is None:
            return _MISSING + module_name
    if not attribute or not is_user_module(module_name) or module_name.startswith(_OWN):
        return module  # a library (or this tool): its version identifies what it provides
    value = getattr(module, attribute, _MISSING)
    if value is _MISSING:
        # ``from package import submodule`` imports the submodule when it is not an attribute.
        submodule = sys.modules.get(f"{module_name}.{attribute}") or _import(
            f"{module_name}.{attribute}"
        )
        return submodule if submodule is not None else _MISSING + spec
    return value


def read_imported(spec: str, chain: tuple[str, ...]) -> object:
    """Read ``spec`` (see :func:`read_import`), then ``chain`` through user modules only.

    ``helpers.f`` after ``import helpers`` gives the function ``f``, followed by its code;
    from a library module only the module counts (its version identifies it).
    """
    value = read_import(spec)
    for attr in chain:
        if not (isinstance(value, ModuleType) and is_user_module(value.__name__)):
            break
        value = getattr(value, attr, _MISSING + attr)
    return value


def _import(name: str) -> ModuleType | None:
    """Import module ``name``; return ``None`` (remembered per ``sys.path``) if that fails."""
    if _failed_imports.get(name) == sys.path:
        return None
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - any failure means the function's import fails too
        _failed_imports[name] = list(sys.path)
        return None

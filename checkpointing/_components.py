"""The digest of each component of a call, recorded with its entry so a miss can be explained.

A context id hashes everything a call depends on into one digest: it says *that* something
changed, not *what*. On a miss (never on a hit) the decorator also records, in the entry's
metadata, one digest per component:

* ``argument:NAME``  each bound argument, by parameter name;
* ``global:NAME``    each global or closure value the function (or a helper it reaches)
  reads, by name (``mod.attr`` for attributes read from a user module);
* ``code:QUALNAME``  the normalized code of the function and of each user function,
  method or class reached through those values, with a readable text of the code (its
  source without comments, docstrings or annotations) so a change can be shown as a diff;
* ``defaults:QUALNAME`` the default argument values of a reached helper;
* ``version:PACKAGE`` the version of each library whose objects the call reads;
* ``python`` the Python version (part of every key).

The digests reuse the key builder's pieces (the code profile, the value hasher, the
library classifier) without changing them, so a component differs exactly when the part
of the key built from it differs. Recording is bounded (texts are truncated, reached
code is followed to a limited number of objects) and never raises: a component that
cannot be hashed is recorded as ``"unhashable"``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

import xxhash

from checkpointing._classify import is_user_module, package_version
from checkpointing._code_table import CodeTable
from checkpointing._hashing import WRAPPED_ATTRIBUTE, hash_values
from checkpointing._profile import UNBOUND, CodeProfile, free_values, lookup_name, profile_of
from checkpointing._simplify import simplify
from checkpointing._verify import find_definition

__all__ = ["CODE_TEXTS_KEY", "COMPONENTS_KEY", "call_components"]

# Where the components live in an entry's ``EntryInfo.extra``.
COMPONENTS_KEY = "components"
CODE_TEXTS_KEY = "code"

_PYTHON = "{}.{}".format(*sys.version_info[:2])  # what keys include
_MAX_TEXT = 16_000  # characters of readable code kept per function
_MAX_CODE_OBJECTS = 200  # reached functions and classes followed per call


def call_components(
    func: FunctionType, arguments: Mapping[str, Any], profile: CodeProfile | None = None
) -> dict[str, Any]:
    """Return ``{"components": {name: digest}, "code": {qualname: text}}`` for one call."""
    walker = _Walker()
    walker.components["python"] = _PYTHON
    for name, value in arguments.items():
        walker.components[f"argument:{name}"] = _digest(value)
    walker.function(func, profile or profile_of(func), top=True)
    return {COMPONENTS_KEY: walker.components, CODE_TEXTS_KEY: walker.texts}


def _digest(value: object) -> str:
    """Return a short hex digest of ``value`` as the key builder would hash it."""
    try:
        return hash_values(value, xxhash.xxh3_128, 5).hexdigest()[:16]
    except Exception:  # noqa: BLE001 - explaining must never fail a save
        return "unhashable"


def readable_code(func: FunctionType) -> str | None:
    """Return ``func``'s source without comments, docstrings or annotations, if known."""
    return _texts.get(func)


def _readable_code(func: FunctionType) -> str | None:
    source = profile_of(func).source
    node = find_definition(source, func.__code__) if source else None
    if node is None:
        return None
    simplify(node)
    text = ast.unparse(node)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "\n# ... (truncated)"


# Readable code per code object, let go with the functions that use it (see CodeTable).
_texts: CodeTable[str | None] = CodeTable(_readable_code)


class _Walker:
    """Collect components, following user functions and classes among the values read."""

    def __init__(self) -> None:
        self.components: dict[str, str] = {}
        self.texts: dict[str, str] = {}
        self._seen: set[int] = set()

    def function(self, func: FunctionType, profile: CodeProfile, top: bool = False) -> None:
        """Record the code of ``func``, then every value it reads."""
        if id(func) in self._seen or len(self._seen) >= _MAX_CODE_OBJECTS:
            return
        self._seen.add(id(func))
        name = func.__qualname__
        digest = profile.entry_digest if top else profile.digest  # as the key uses them
        self.components[f"code:{name}"] = digest.hex()[:16]
        text = readable_code(func)
        if text is not None:
            self.texts[name] = text
        if not top and (func.__defaults__ or func.__kwdefaults__):
            self.components[f"defaults:{name}"] = _digest((func.__defaults__, func.__kwdefaults__))
        try:
            values = free_values(func, profile)
        except Exception:  # noqa: BLE001 - explaining must never fail a save
            return
        for (base, chain), value in zip(profile.free_names, values, strict=True):
            self.value(_label(func, base, chain), value)

    def value(self, label: str, value: object) -> None:
        """Record one global or closure value read under ``label``."""
        key = f"global:{label}"
        if key in self.components:
            return
        if isinstance(value, str) and value == UNBOUND:
            self.components[key] = "unbound"
            return
        inner = getattr(value, WRAPPED_ATTRIBUTE, None)
        if isinstance(inner, FunctionType):
            value = inner
        if isinstance(value, MethodType):
            value = value.__func__
        module = _module_of(value)
        if module is not None and not is_user_module(module):
            # A library object: what matters is which one it is, and its version.
            name = getattr(value, "__qualname__", getattr(value, "__name__", type(value).__name__))
            self.components[key] = f"{module}:{name}"
            top = module.partition(".")[0]
            self.components[f"version:{top}"] = package_version(module)
            return
        if isinstance(value, FunctionType):
            self.components[key] = "function"
            self.function(value, profile_of(value))
        elif isinstance(value, type):
            self.components[key] = "class"
            self.klass(value)
        else:
            self.components[key] = _digest(value)

    def klass(self, cls: type) -> None:
        """Record a user class: each method's code, and the rest of its body as one digest."""
        if id(cls) in self._seen or len(self._seen) >= _MAX_CODE_OBJECTS:
            return
        self._seen.add(id(cls))
        others: list[tuple[str, object]] = []
        for name, member in sorted(vars(cls).items()):
            func = member
            if isinstance(func, staticmethod | classmethod):
                func = func.__func__
            if isinstance(func, property):
                func = func.fget
            if isinstance(func, FunctionType) and is_user_module(func.__module__):
                self.function(func, profile_of(func))
            elif not name.startswith("__") or name in ("__slots__",):
                others.append((name, member))
        self.components[f"code:{cls.__qualname__}"] = _digest((cls.__bases__, tuple(others)))


def _label(func: FunctionType, base: str, chain: tuple[str, ...]) -> str:
    """Name a free value: ``mod.attr`` when read through a user module, else the name."""
    if chain:
        owner = lookup_name(func, base)
        if isinstance(owner, ModuleType) and is_user_module(owner.__name__):
            return ".".join((base, *chain))
    return base


def _module_of(value: object) -> str | None:
    """Return the module a function, class or module belongs to (None for other values).

    Instances, even callable ones (``functools.partial``), are data: hashed by content.
    """
    if isinstance(value, ModuleType):
        return value.__name__
    if isinstance(value, BuiltinFunctionType) and not isinstance(value.__self__, ModuleType | None):
        return None  # a method bound to an object: the object is data
    if isinstance(value, type | FunctionType | BuiltinFunctionType):
        module = getattr(value, "__module__", None) or "builtins"
        return module if isinstance(module, str) else None
    return None

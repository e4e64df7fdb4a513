"""What stands in a key for a module whose globals code reads by computed names.

``globals()[name]``, ``eval("K * 2")`` and ``exec`` read a function's module namespace by
names known only when the code runs, so no analysis can list them: where code uses one
of these builtins, its whole module is what it may read. The profile's name reader
(:mod:`checkpointing._profile`) puts a :class:`ModuleNamespace` in the key in place of
the builtin, and the key's pickler hashes it by the module's content
(:mod:`checkpointing._module_content`), ``__main__`` included.
"""

from __future__ import annotations

import builtins
import sys
from types import ModuleType
from typing import Any

__all__ = ["NAMESPACE_READERS", "ModuleNamespace", "namespace_reader"]

# The builtins that read the caller's module namespace by a name known only at run time.
NAMESPACE_READERS = frozenset(map(id, (builtins.globals, builtins.eval, builtins.exec)))


class ModuleNamespace:
    """Stands in the key for a function's module where its code reads globals dynamically.

    Hashed by the module's content (its functions' code and its globals' values), so
    editing or rebinding any global the code could look up by a computed name re-runs it.
    """

    __slots__ = ("module",)

    def __init__(self, module: ModuleType) -> None:
        self.module = module


def namespace_reader(namespace: dict[str, Any], reader: object) -> object:
    """Return the module ``namespace`` belongs to, wrapped; ``reader`` if there is none."""
    module = sys.modules.get(str(namespace.get("__name__")))
    if module is None or getattr(module, "__dict__", None) is not namespace:
        return reader  # code run in a bare dict (exec): nothing better to stand for it
    return ModuleNamespace(module)

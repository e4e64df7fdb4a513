"""The checkpointed functions alive in this process, by full name, and what their code is now.

An entry records the digest of the code that stored it (``code:QUALNAME`` among its
components, see :mod:`checkpointing._components`). Whether the function's *current* code
differs is knowable only for functions defined in this process: each decoration
registers itself here (weakly, latest definition wins, as when a notebook cell is
re-run), and :func:`current_code` answers from the registered one.
"""

from __future__ import annotations

import weakref
from typing import Any

__all__ = ["current_code", "register"]

_LIVE: dict[str, weakref.ref[Any]] = {}


def register(name: str, checkpointed: Any) -> None:
    """Remember ``checkpointed`` (a decorated function's engine subject) as ``name``'s latest."""
    _LIVE[name] = weakref.ref(checkpointed)


def current_code(name: str) -> tuple[str, str] | None:
    """Return ``(component, digest)`` of the code ``name`` has now; ``None`` if not known here."""
    ref = _LIVE.get(name)
    live = ref() if ref is not None else None
    profile = getattr(live, "profile", None)
    if live is None or profile is None:
        return None
    return f"code:{live.func.__qualname__}", profile.entry_digest.hex()[:16]

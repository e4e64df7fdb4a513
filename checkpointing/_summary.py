"""Short, human-readable summaries of call arguments for cache metadata."""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["summarise_arguments"]

_LIMIT = 200
_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 4


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None) if shape is not None else None
    if isinstance(shape, tuple) and dtype is not None:
        return f"<{type(value).__name__} shape={shape} dtype={dtype}>"
    if isinstance(shape, tuple) and hasattr(value, "columns"):
        return f"<{type(value).__name__} shape={shape}>"
    try:
        return _repr.repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not fail the save
        return f"<{type(value).__name__}>"


def summarise_arguments(arguments: dict[str, Any]) -> str:
    """Return ``name=value, ...`` with long values abbreviated, at most 200 characters."""
    text = ", ".join(f"{name}={_describe(value)}" for name, value in arguments.items())
    return text if len(text) <= _LIMIT else text[: _LIMIT - 3] + "..."

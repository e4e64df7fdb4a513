"""Short, human-readable summaries of call arguments for cache metadata."""

from __future__ import annotations

import re
import reprlib
from typing import Any

__all__ = ["summarise_arguments"]

_LIMIT = 200
# A memory address differs in every process, so it tells a reader nothing about the call.
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


class _Repr(reprlib.Repr):
    """``reprlib`` with objects shown without their address, cut at the end rather than inside."""

    def repr_instance(self, x: Any, level: int) -> str:
        try:
            text = repr(x)
        except Exception:  # noqa: BLE001 - a broken __repr__ must not fail the save
            return f"<{type(x).__name__}>"
        text = _ADDRESS.sub("", text).replace("<__main__.", "<")
        return text if len(text) <= self.maxother else text[: self.maxother - 1] + "…"


_repr = _Repr()
_repr.maxstring = 60
_repr.maxother = 60
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

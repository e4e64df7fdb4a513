"""Global defaults, read when a decorator or cache is created without explicit settings."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

__all__ = ["ON_ERROR_CHOICES", "Defaults", "defaults", "validate_on_error"]

ON_ERROR_CHOICES = ("raise", "warn", "ignore")
_LIMIT_KEYS = ("cache.max_size", "cache.max_age", "cache.keep_expensive")

_INITIAL: dict[str, Any] = {
    "cache.filesystem.directory": ".checkpointing",
    "cache.pickle_protocol": 5,
    "cache.secret": None,
    "hash.algorithm": "xxh3_128",
    "hash.pickle_protocol": 5,
    "checkpoint.on_error": "warn",
    # Limits of caches that have none of their own (see checkpointing.limits).
    "cache.max_size": None,
    "cache.max_age": None,
    "cache.keep_expensive": False,
}


def validate_on_error(value: object) -> str:
    """Return ``value`` if it is a known ``on_error`` policy, else raise ``ValueError``."""
    if value not in ON_ERROR_CHOICES:
        choices = ", ".join(repr(c) for c in ON_ERROR_CHOICES)
        raise ValueError(f"on_error must be one of {choices}, got {value!r}")
    return str(value)


class Defaults(MutableMapping[str, Any]):
    """A dict of known settings; unknown keys are refused so typos fail loudly."""

    def __init__(self) -> None:
        self._values = dict(_INITIAL)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in _INITIAL:
            known = ", ".join(sorted(_INITIAL))
            raise KeyError(f"unknown checkpointing setting {key!r}; known settings: {known}")
        if key == "checkpoint.on_error":
            validate_on_error(value)
        if key in _LIMIT_KEYS:
            from checkpointing.limits import CacheLimits

            limits = {k.removeprefix("cache."): self._values[k] for k in _LIMIT_KEYS}
            limits[key.removeprefix("cache.")] = value
            CacheLimits.create(**limits)  # refuse "5 parsecs" now rather than at a store
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        raise TypeError("checkpointing settings cannot be deleted; use reset() to restore them")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Defaults({self._values!r})"

    def reset(self) -> None:
        """Restore every setting to its initial value."""
        self._values = dict(_INITIAL)


defaults = Defaults()

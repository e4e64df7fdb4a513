"""Settings: one table of setting -> (default, validator), checked when a value is set.

``defaults`` is a mapping of the known settings. Assigning a value runs that setting's
validator, so a bad value fails at the assignment with a message naming the setting,
not later in the middle of a call. Code that takes the same value as an argument
(``checkpoint(on_error=...)``, ``%%checkpoint --on-error``) checks it with
:func:`validate`, the same rule. To add a setting, add one row to ``_TABLE``.

Validators import what they need when they run, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

__all__ = ["ON_ERROR_CHOICES", "Defaults", "defaults", "validate", "validate_on_error"]

ON_ERROR_CHOICES = ("raise", "warn", "ignore")

Validator = Callable[[str, Any], Any]


def _on_error(name: str, value: Any) -> str:
    if value not in ON_ERROR_CHOICES:
        choices = ", ".join(repr(c) for c in ON_ERROR_CHOICES)
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return str(value)


def _directory(name: str, value: Any) -> str | os.PathLike[str]:
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise TypeError(f"{name} must be a non-empty path (str or os.PathLike), got {value!r}")
    return value


def _pickle_protocol(minimum: int) -> Validator:
    """Return the validator of a pickle protocol setting, lowest usable value ``minimum``."""

    def check(name: str, value: Any) -> int:
        import pickle

        top = pickle.HIGHEST_PROTOCOL
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= top:
            raise ValueError(f"{name} must be an int from {minimum} to {top}, got {value!r}")
        return value

    return check


def _hash_algorithm(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a hash algorithm name (str), got {value!r}")
    from checkpointing._hashing import hasher_factory

    try:
        hasher_factory(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    return value


def _secret(name: str, value: Any) -> str | bytes | None:
    if value is not None and not isinstance(value, str | bytes):
        raise TypeError(f"{name} must be str, bytes or None, got {type(value).__name__}")
    return value


def _limit(field: str) -> Validator:
    """Return the validator of one cache limit setting (``max_size``, ``max_age``...)."""

    def check(name: str, value: Any) -> Any:
        from checkpointing.limits import CacheLimits

        try:
            CacheLimits.create(**{field: value})  # refuse "5 parsecs" now, not at a store
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}: {exc}") from None
        return value

    return check


def _cache_backend(name: str, value: Any) -> str:
    from checkpointing.backend import check_backend_spec

    return check_backend_spec(name, value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _threshold(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


# setting -> (default, validator). The only list of settings.
_TABLE: dict[str, tuple[Any, Validator]] = {
    "cache.backend": ("file", _cache_backend),
    "cache.filesystem.directory": (".checkpointing", _directory),
    # Limits of caches that have none of their own (see checkpointing.limits).
    "cache.keep_expensive": (False, _limit("keep_expensive")),
    "cache.max_age": (None, _limit("max_age")),
    "cache.max_size": (None, _limit("max_size")),
    "cache.pickle_protocol": (5, _pickle_protocol(0)),
    # The key that signs entries (see checkpointing.cache.store_cache).
    "cache.secret": (None, _secret),
    # One computation per key on concurrent misses (see checkpointing._dedup).
    "checkpoint.dedup": (True, _flag),
    "checkpoint.dedup_timeout": (600.0, _seconds),
    "checkpoint.lock_ttl": (60.0, _seconds),
    # Calls (and cells) that ran faster than this are not stored (see checkpointing.engine).
    "checkpoint.min_run_time": (0.0, _threshold),
    "checkpoint.on_error": ("warn", _on_error),
    "hash.algorithm": ("xxh3_128", _hash_algorithm),
    "hash.pickle_protocol": (5, _pickle_protocol(2)),  # the key pickler needs 2+
}


def validate(setting: str, value: Any, name: str | None = None) -> Any:
    """Return ``value`` checked by ``setting``'s rule; errors name ``name`` (or the setting)."""
    try:
        validator = _TABLE[setting][1]
    except KeyError:
        known = ", ".join(sorted(_TABLE))
        raise KeyError(
            f"unknown checkpointing setting {setting!r}; known settings: {known}"
        ) from None
    return validator(name or setting, value)


def validate_on_error(value: object, name: str = "on_error") -> str:
    """Return ``value`` if it is a known ``on_error`` policy, else raise ``ValueError``."""
    return _on_error(name, value)


class Defaults(MutableMapping[str, Any]):
    """A dict of known settings; unknown keys and bad values are refused when set."""

    def __init__(self) -> None:
        self._values = {setting: default for setting, (default, _) in _TABLE.items()}

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._values[key] = validate(key, value)

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
        self._values = {setting: default for setting, (default, _) in _TABLE.items()}


defaults = Defaults()

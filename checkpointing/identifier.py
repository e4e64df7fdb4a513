"""Turn a call context into a context id: the key under which its result is stored."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from typing import Any

from checkpointing._hashing import hash_values, hasher_factory
from checkpointing._observed import ObservedNames
from checkpointing._profile import ambient_inputs, free_values
from checkpointing._subclasses import subclass_dependencies
from checkpointing.config import defaults, validate
from checkpointing.context import FuncCallContext
from checkpointing.exceptions import IdentificationError

__all__ = ["KEY_FORMAT_VERSION", "AutoFuncCallIdentifier", "FuncCallIdentifierBase"]

# Bump when the way keys are built changes, so old entries are never mistaken for new.
KEY_FORMAT_VERSION = 1
_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
_KEY_PREFIX = f"checkpointing-key:{KEY_FORMAT_VERSION}:python-{_PYTHON}:".encode()


class FuncCallIdentifierBase(ABC):
    """Decide which calls share a result by giving each call context an id.

    Two calls with equal ids share one stored result. The id must be accepted by the
    cache it is used with: :class:`~checkpointing.PickleFileCache` takes any picklable
    value and uses strings that are valid file names as the file name stem.
    """

    @abstractmethod
    def identify(self, context: FuncCallContext) -> Any:
        """Return the id of the call described by ``context``."""


class AutoFuncCallIdentifier(FuncCallIdentifierBase):
    """Identify a call by its normalized code, argument values and the values it reads.

    The id is the hex digest (``algorithm``, default ``xxh3_128``) of: a key format
    version, the Python version, the digest of the function's normalized code, the
    bound argument values in parameter order, and the current values of the globals
    and closure variables the function reads. User-defined functions and classes among
    those values contribute their own code, recursively.
    """

    def __init__(self, algorithm: str | None = None, pickle_protocol: int | None = None) -> None:
        # The same rules as the settings these arguments stand in for.
        if algorithm is None:
            algorithm = defaults["hash.algorithm"]
        self.algorithm: str = validate("hash.algorithm", algorithm, "algorithm")
        self._new_hasher = hasher_factory(self.algorithm)
        if pickle_protocol is None:
            pickle_protocol = defaults["hash.pickle_protocol"]
        self.pickle_protocol: int = validate(
            "hash.pickle_protocol", pickle_protocol, "pickle_protocol"
        )

    def identify(self, context: FuncCallContext) -> str:
        """Return the hex digest of the call context (see the class docstring)."""
        profile = context.profile
        values = free_values(context.function, profile)
        prefix = _KEY_PREFIX + profile.entry_digest
        key: tuple[object, ...] = (tuple(context.arguments.values()), values)
        discovered = subclass_dependencies(context.function, values)
        if discovered:  # plugins found through Base.__subclasses__()
            key = (*key, discovered)
        states = ambient_inputs(context.function, profile)
        if states is not None:  # library state the code reads (rcParams, random state...)
            key = (*key, ("library states", states))
        # Names and docstrings count where the code reads them (f.__name__, __doc__).
        observed = ObservedNames(profile.observes)
        try:
            digest = hash_values(key, self._new_hasher, self.pickle_protocol, prefix, observed)
            return digest.hexdigest()
        except Exception as exc:
            raise IdentificationError(self._explain(context, values, exc)) from exc

    def _explain(self, context: FuncCallContext, values: tuple[object, ...], exc: Exception) -> str:
        """Name the argument or global that could not be hashed (only on failure)."""
        suspects: list[tuple[str, object]] = [
            (f"argument {name!r}", value) for name, value in context.arguments.items()
        ]
        suspects += [
            (f"global {'.'.join((name, *chain))!r}", value)
            for (name, chain), value in zip(context.profile.free_names, values, strict=True)
        ]
        for label, value in suspects:
            try:
                hash_values(value, self._new_hasher, self.pickle_protocol)
            except Exception as inner:  # noqa: BLE001 - probing which value fails
                return (
                    f"{label} ({type(value).__name__}) cannot be hashed deterministically: "
                    f"{type(inner).__name__}: {inner}"
                )
        return f"the call cannot be hashed deterministically: {type(exc).__name__}: {exc}"

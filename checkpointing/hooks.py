"""The public surface for extensions: what the notebook extension (or yours) may use.

Extensions plug into the core here instead of reaching into its private modules, so
the core can be reorganised without breaking them (a test fails if ``ipython_ext``
imports a ``checkpointing._*`` module). Everything is stable API:

* **source finders**: :func:`register_source_finder` adds a function that recovers the
  source of functions ``inspect`` cannot (the notebook's history); :func:`find_source`
  asks the finders, then ``inspect``; :func:`identified_source` is the *verified*
  source a function is keyed by (``None`` when it is keyed by its bytecode);
* **source verification**: :func:`find_definition` cuts a definition out of a text and
  :func:`source_matches_code` tells whether compiling it reproduces a code object,
  proof that the text is what runs (:func:`source_compiles_to` does both);
* **events**: :func:`subscribe` to the :class:`CheckpointEvent` of every cached call;
* **wrappers**: :func:`unwrap` and :func:`is_checkpointed` see through ``@checkpoint``;
* **values**: :func:`value_digest` hashes a value as keys are hashed;
  :func:`summarise_arguments` abbreviates inputs for cache listings;
* **code normalisation** shared with the cell analysis: :func:`simplify` strips what
  does not change behaviour (docstrings, annotations) from a syntax tree in place, and
  :func:`all_parameters` lists a signature's parameters;
* **scope analysis** shared with the cell analysis (:mod:`checkpointing._scope`):
  :func:`analyse_scopes` resolves every name of a function or cell to the :class:`Scope`
  that binds it and how (:class:`Kind`, :class:`ImportBinding`);
  :func:`observed_attributes` finds reads of ``__name__``/``__doc__``;
  :func:`read_imported` reads what an import binds at call time; an
  :class:`ObservedNames` passed to :func:`value_digest` makes names and docstrings count.
"""

from __future__ import annotations

from types import CodeType, FunctionType

from checkpointing._hashing import WRAPPED_ATTRIBUTE
from checkpointing._normalize import all_parameters, simplify
from checkpointing._scope import (
    ImportBinding,
    Kind,
    ObservedNames,
    Scope,
    analyse_scopes,
    module_file_digest,
    observed_attributes,
    read_imported,
)
from checkpointing._source import SourceFinder, find_source, register_source_finder
from checkpointing._summary import summarise_arguments
from checkpointing._verify import find_definition, source_matches_code
from checkpointing.events import CheckpointEvent, subscribe

__all__ = [
    "CheckpointEvent",
    "ImportBinding",
    "Kind",
    "ObservedNames",
    "Scope",
    "SourceFinder",
    "all_parameters",
    "analyse_scopes",
    "find_definition",
    "find_source",
    "identified_source",
    "is_checkpointed",
    "module_file_digest",
    "observed_attributes",
    "read_imported",
    "register_source_finder",
    "simplify",
    "source_compiles_to",
    "source_matches_code",
    "subscribe",
    "summarise_arguments",
    "unwrap",
    "value_digest",
]


def unwrap(obj: object) -> FunctionType | None:
    """Return the function a ``@checkpoint`` wrapper caches, or ``None`` for anything else.

    Reads the instance dictionary only, so no user ``__getattr__`` ever runs.
    """
    if not isinstance(obj, FunctionType):
        return None
    inner = obj.__dict__.get(WRAPPED_ATTRIBUTE)
    return inner if isinstance(inner, FunctionType) else None


def is_checkpointed(obj: object) -> bool:
    """Tell whether ``obj`` is a function wrapped by ``@checkpoint``."""
    return unwrap(obj) is not None


def identified_source(func: FunctionType) -> str | None:
    """Return the verified source ``func`` is keyed by, or ``None`` if keyed by bytecode."""
    from checkpointing._profile import profile_of

    return profile_of(func).source


def source_compiles_to(source: str, code: CodeType) -> bool:
    """Tell whether ``source`` holds a definition that compiles to exactly ``code``."""
    node = find_definition(source, code)
    return node is not None and source_matches_code(node, code, source)


def value_digest(value: object, observed: ObservedNames | None = None) -> str:
    """Return the hex digest of ``value`` as call keys hash values (``defaults["hash.*"]``).

    User functions and classes count by their code, arrays and frames by content. Raises
    when the value cannot be hashed deterministically. ``observed``: which names and
    docstrings of functions and classes count (see :class:`ObservedNames`; it may grow).
    """
    from checkpointing._hashing import hash_values, hasher_factory
    from checkpointing.config import defaults

    new_hasher = hasher_factory(defaults["hash.algorithm"])
    protocol = defaults["hash.pickle_protocol"]
    return hash_values(value, new_hasher, protocol, observed=observed).hexdigest()

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
* **what code reaches**: :func:`follow_attributes` gives what a key hashes for
  ``value.a.b`` (a library module's attribute only when the user put it there),
  :func:`reach_attributes` what the code reaches, :func:`is_library_module` tells
  libraries from project code (by file location);
* **library state** (see :mod:`checkpointing._ambient`): :func:`library_state_digests`
  digests the states that code reaching some objects uses; :func:`library_states`,
  :func:`read_library_states` and :func:`write_library_state` list, read and set them
  (the notebook extension restores what a cached cell changed);
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

from collections.abc import Iterable
from types import CodeType, FunctionType, ModuleType

from checkpointing._hashing import WRAPPED_ATTRIBUTE
from checkpointing._imports import module_file_digest, read_imported
from checkpointing._observed import ObservedNames, observed_attributes
from checkpointing._scope import ImportBinding, Kind, Scope, all_parameters, analyse_scopes
from checkpointing._simplify import simplify
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
    "follow_attributes",
    "identified_source",
    "is_checkpointed",
    "is_library_module",
    "library_state_digests",
    "library_states",
    "module_file_digest",
    "observed_attributes",
    "reach_attributes",
    "read_imported",
    "read_library_states",
    "register_source_finder",
    "simplify",
    "source_compiles_to",
    "source_matches_code",
    "subscribe",
    "summarise_arguments",
    "unwrap",
    "value_digest",
    "write_library_state",
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


def follow_attributes(value: object, chain: tuple[str, ...]) -> object:
    """Return what a key hashes for ``value`` read through attribute ``chain``.

    Through a project module, the attribute; through a library module, the module
    itself unless the chain ends in the user's own code (a monkeypatch) or a plain
    setting, which are returned instead. Reads module namespaces only: no import.
    """
    from checkpointing._profile import follow_chain

    return follow_chain(value, chain)


def reach_attributes(value: object, chain: tuple[str, ...]) -> object:
    """Return the object ``value.chain`` reaches through modules (their ``__dict__`` only)."""
    from checkpointing._profile import reach

    return reach(value, chain)


def is_library_module(module: ModuleType) -> bool:
    """Tell whether ``module`` is a library (stdlib, site-packages), judged by its file."""
    from checkpointing._classify import is_user_module

    return not is_user_module(module.__name__)


def library_state_digests(objects: Iterable[object]) -> dict[str, str | None]:
    """Digest, by state name, the library states that code reaching ``objects`` uses.

    ``None`` for a state whose library is not imported. Hashed as keys hash values.
    """
    from checkpointing._ambient import digest_states, states_used_by

    def digest(value: object) -> bytes:
        return bytes.fromhex(value_digest(value))

    states = states_used_by(objects)
    return {name: None if d is None else d.hex() for name, d in digest_states(states, digest)}


def library_states() -> dict[str, tuple[str, bool]]:
    """Return every registered library state: name -> (library module, can be set back)."""
    from checkpointing._ambient import ambient_states

    return {state.name: (state.module, state.write is not None) for state in ambient_states()}


def read_library_states(names: Iterable[str] | None = None) -> dict[str, object]:
    """Read the named library states (default: all) whose library is already imported.

    Nothing is imported to read a state; the values can be given back to
    :func:`write_library_state`.
    """
    from checkpointing._ambient import ambient_states, read_states

    if names is None:
        return read_states()
    wanted = set(names)
    return read_states(state for state in ambient_states() if state.name in wanted)


def write_library_state(name: str, value: object) -> bool:
    """Set library state ``name`` back to ``value``; tell whether it could be set."""
    from checkpointing._ambient import write_state

    return write_state(name, value)

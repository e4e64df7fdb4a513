"""Library state that code reads without naming it: a registry of *ambient states*.

Some libraries keep process-wide settings that change what their functions return or
draw: matplotlib's ``rcParams`` (``plt.rc``, ``plt.style.use``), numpy's legacy global
random state (``np.random.seed``/``np.random.rand``), the ``random`` module's state and
pandas options. A function or cell that reaches such a library depends on that state as
much as on its arguments, so the state joins its key.

An :class:`AmbientState` says how to read one state (cheaply: a copy, not a
serialisation), optionally how to set it back (the notebook extension restores the state
a cached cell leaves behind), and which code *uses* it: a test on the objects the code
reaches (the values of its free names, attribute chains followed). Which states a
function uses is decided once per code profile (see :mod:`checkpointing._profile`); a
call then only reads and digests those states.

Rules that keep keys honest and hits cheap:

* a state is read only when its library is already in ``sys.modules``: nothing is
  imported to read it (code that reaches the library has imported it);
* a state whose reader returns a ``dict`` keeps its last digest while the new reading
  compares equal to a private copy of the last one (lists copied, so an in-place change
  of a list value is seen), so unchanged ``rcParams`` cost a comparison, not a hash;
* the global random states are left out of the key of code that also reaches the
  library's own ``seed`` function (it sets the state itself), so
  ``np.random.seed(0); np.random.rand()`` inside a function still hits in a new process.

How the built-in states are read and set is in :mod:`checkpointing._library_states`;
users register more states with :func:`register_ambient_state`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from checkpointing import _library_states as builtin

__all__ = [
    "AmbientState",
    "ambient_states",
    "digest_states",
    "read_states",
    "register_ambient_state",
    "registry_version",
    "states_used_by",
    "write_state",
]

Reader = Callable[[ModuleType], object]
Writer = Callable[[ModuleType, Any], None]
UseTest = Callable[[object], bool]


@dataclass(frozen=True, slots=True)
class AmbientState:
    """One library state: where it lives, how to read and set it, and what code uses it.

    ``module`` is the module passed to ``read``/``write`` (read only if imported);
    ``uses`` tells whether an object reached by code brings this state into its key;
    ``set_by`` tells whether an object reached by code resets the state itself (a seed
    function), which leaves the state out of that code's key.
    """

    name: str
    module: str
    read: Reader
    write: Writer | None
    uses: UseTest
    set_by: UseTest | None = None
    compact: Callable[[Any], object] | None = None  # a reading in a form cheap to hash


_registry: dict[str, AmbientState] = {}
_version = 0  # bumped on every registration, so cached decisions are made again
_last_dicts: dict[str, tuple[dict[Any, Any], bytes]] = {}
_lock = threading.Lock()


def registry_version() -> int:
    """Return a number that changes whenever a state is registered or replaced."""
    return _version


def ambient_states() -> tuple[AmbientState, ...]:
    """Return every registered state, in registration order."""
    return tuple(_registry.values())


def origin_of(obj: object) -> str:
    """Return the dotted name of the module ``obj`` comes from (``""`` if unknown)."""
    if isinstance(obj, ModuleType):
        return obj.__name__
    owner = getattr(obj, "__self__", None)
    if owner is not None and not isinstance(obj, type):
        if isinstance(owner, ModuleType):
            return owner.__name__
        module = getattr(obj, "__module__", None)
        return module if isinstance(module, str) else type(owner).__module__
    module = getattr(obj, "__module__", None) if callable(obj) else type(obj).__module__
    return module if isinstance(module, str) else ""


def _from_modules(prefixes: tuple[str, ...]) -> UseTest:
    """Return a test true for objects from any module named by, or under, ``prefixes``."""

    def uses(obj: object) -> bool:
        origin = origin_of(obj)
        return any(origin == p or origin.startswith(p + ".") for p in prefixes)

    return uses


def register_ambient_state(
    library: str,
    read: Reader,
    write: Writer | None = None,
    *,
    name: str | None = None,
    used_by: Iterable[str] | UseTest | None = None,
) -> None:
    """Make a library's process-wide state part of the key of code that uses the library.

    ``read(module)`` returns the state of the imported module ``library`` (a value the
    key can hash: numbers, strings, tuples, dicts, arrays); ``write(module, value)``, if
    given, sets a value ``read`` returned back (the notebook extension uses it to restore
    what a cached cell changed). ``used_by`` lists the modules whose functions, classes or
    submodules, when reached by code, make the state an input (default: ``library``
    itself), or is a test on each reached object. ``name`` (default ``library``) names
    the state; registering a name again replaces the earlier state.
    """
    global _version
    if not _is_name(library):
        raise TypeError(f"library must be a module name, got {library!r}")
    if not callable(read):
        raise TypeError(f"read must be callable, got {read!r}")
    if write is not None and not callable(write):
        raise TypeError(f"write must be callable or None, got {write!r}")
    uses: UseTest
    if used_by is None:
        uses = _from_modules((library,))
    elif callable(used_by):
        uses = used_by
    else:
        prefixes = (used_by,) if isinstance(used_by, str) else tuple(used_by)
        if not prefixes or not all(map(_is_name, prefixes)):
            raise TypeError(f"used_by must name modules or be a test, got {used_by!r}")
        uses = _from_modules(prefixes)
    state = AmbientState(name or library, library, read, write, uses)
    _add(state)
    _version += 1


def _is_name(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _add(state: AmbientState) -> None:
    with _lock:
        _registry[state.name] = state
        _last_dicts.pop(state.name, None)


def states_used_by(objects: Iterable[object]) -> tuple[AmbientState, ...]:
    """Return the registered states that code reaching ``objects`` depends on."""
    reached = list(objects)
    found: list[AmbientState] = []
    for state in _registry.values():
        if not any(_safe(state.uses, obj) for obj in reached):
            continue
        if state.set_by is not None and any(_safe(state.set_by, obj) for obj in reached):
            continue  # the code sets this state itself
        found.append(state)
    return tuple(found)


def _safe(test: UseTest, obj: object) -> bool:
    try:
        return bool(test(obj))
    except Exception:  # noqa: BLE001 - a user's test failing on an odd object: not a use
        return False


def read_states(states: Iterable[AmbientState] | None = None) -> dict[str, object]:
    """Read ``states`` (default: all registered) whose library is imported, by name.

    States whose library is not in ``sys.modules`` are left out: nothing is imported.
    """
    values: dict[str, object] = {}
    for state in _registry.values() if states is None else states:
        module = sys.modules.get(state.module)
        if module is not None:
            values[state.name] = _read(state, module)
    return values


def _read(state: AmbientState, module: ModuleType) -> object:
    try:
        return state.read(module)
    except Exception as exc:  # noqa: BLE001 - a broken reader must not break every call
        return ("unreadable", type(exc).__name__)


def write_state(name: str, value: object) -> bool:
    """Set state ``name`` to ``value`` (as read by :func:`read_states`); tell if it was set.

    Returns ``False`` when the state is unknown, has no writer, or its library is not
    imported.
    """
    state = _registry.get(name)
    if state is None or state.write is None:
        return False
    module = sys.modules.get(state.module)
    if module is None:
        return False
    state.write(module, value)
    return True


def digest_states(
    states: tuple[AmbientState, ...], digest: Callable[[object], bytes]
) -> tuple[tuple[str, bytes | None], ...]:
    """Return ``(name, digest)`` for each of ``states`` (``None`` when not imported).

    ``digest`` hashes one value (the key's hashing); a ``dict`` reading equal to the
    last one of its state reuses the last digest.
    """
    result: list[tuple[str, bytes | None]] = []
    for state in states:
        module = sys.modules.get(state.module)
        if module is None:
            result.append((state.name, None))
            continue
        value = _read(state, module)
        if type(value) is dict:
            last = _last_dicts.get(state.name)
            if last is not None and value == last[0]:
                result.append((state.name, last[1]))
                continue
            token = digest(value)
            _last_dicts[state.name] = (_private_copy(value), token)
        else:
            token = digest(value if state.compact is None else state.compact(value))
        result.append((state.name, token))
    return tuple(result)


def _private_copy(value: dict[Any, Any]) -> dict[Any, Any]:
    """Copy ``value`` so later in-place changes of its lists and dicts compare unequal."""
    return {
        key: list(item) if type(item) is list else dict(item) if type(item) is dict else item
        for key, item in value.items()
    }


def _install_builtin_states() -> None:
    """Register the states this library knows about (done at import, imports nothing).

    How each is read and set is in :mod:`checkpointing._library_states`.
    """
    _add(
        AmbientState(
            "numpy.random",
            "numpy",
            builtin.numpy_random_read,
            builtin.numpy_random_write,
            builtin.numpy_random_uses,
            builtin.numpy_random_sets,
            builtin.numpy_random_compact,
        )
    )
    _add(
        AmbientState(
            "random",
            "random",
            builtin.random_read,
            builtin.random_write,
            builtin.random_uses,
            builtin.random_sets,
            builtin.random_compact,
        )
    )
    _add(
        AmbientState(
            "matplotlib.rcParams",
            "matplotlib",
            builtin.matplotlib_read,
            builtin.matplotlib_write,
            _from_modules(("matplotlib", "seaborn")),
        )
    )
    _add(
        AmbientState(
            "pandas.options",
            "pandas",
            builtin.pandas_read,
            builtin.pandas_write,
            _from_modules(("pandas",)),
        )
    )


_install_builtin_states()

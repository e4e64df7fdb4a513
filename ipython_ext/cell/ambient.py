"""Library states a cell can change through calls: random seeds, plot and display settings.

``np.random.seed(0)``, ``random.seed(0)``, ``plt.style.use(...)``, ``sns.set_theme()``,
``pd.set_option(...)``, ``np.set_printoptions(...)``, ``warnings.filterwarnings(...)``,
``sys.path.append(...)`` and ``os.chdir(...)`` change state that later cells depend on,
without binding any name. Each such state is read before and after a cell runs; what
changed is stored with the cell and written back on a hit, so later cells see what they
would see after a run. A state is only read when its library is already imported: this
module never imports one.

The library states are the core's registry, read and written through
:mod:`checkpointing.hooks` (numpy's and ``random``'s global generators, matplotlib's
``rcParams``, pandas options, and whatever users add with ``register_ambient_state``),
which also makes them inputs of the code that uses them. A few more states are only
restored here, never keys: numpy's print options, warning filters, ``sys.path``, the
working directory and torch's seed.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from checkpointing.hooks import read_library_states, write_library_state

__all__ = ["AmbientState", "active_states", "changes", "snapshot", "write_changes"]


@dataclass(frozen=True)
class AmbientState:
    """One state restored by the cell side only: how to read it and write it back."""

    name: str
    module: str
    read: Callable[[], Any]
    write: Callable[[Any], None] | None


def _module(name: str) -> Any:
    return sys.modules[name]


def _pandas_defaults() -> dict[str, Any]:
    config = _module("pandas._config.config")
    return {key: option.defval for key, option in config._registered_options.items()}


def _print_options() -> Any:
    return _module("numpy").get_printoptions()


def _set_print_options(values: dict[str, Any]) -> None:
    _module("numpy").set_printoptions(**values)


def _set_filters(filters: list[Any]) -> None:
    filters_list: Any = warnings.filters  # typed as a Sequence, but a list
    filters_list[:] = filters
    warnings._filters_mutated()  # type: ignore[attr-defined]  # drop per-module caches


def _set_sys_path(paths: list[str]) -> None:
    sys.path[:] = paths


def _set_torch_seed(state: Any) -> None:
    _module("torch").random.set_rng_state(state)


STATES: tuple[AmbientState, ...] = (
    AmbientState("numpy print options", "numpy", _print_options, _set_print_options),
    AmbientState(
        "torch random", "torch", lambda: _module("torch").random.get_rng_state(), _set_torch_seed
    ),
    AmbientState("warning filters", "warnings", lambda: list(warnings.filters), _set_filters),
    AmbientState("sys.path", "sys", lambda: list(sys.path), _set_sys_path),
    AmbientState("working directory", "os", os.getcwd, os.chdir),
)
# The value right after an import, for registry states a cell may import first.
_FRESH: dict[str, Callable[[], Any]] = {"pandas.options": _pandas_defaults}


def active_states() -> tuple[AmbientState, ...]:
    """Return the registered states whose library is imported (importing nothing)."""
    return tuple(state for state in STATES if state.module in sys.modules)


def snapshot(before: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read every active state; states that cannot be read are left out.

    Given the snapshot taken ``before`` a run, a state whose library the run imported
    is compared with its value right after an import, where that is known, so only
    what the cell itself changed is stored.
    """
    values: dict[str, Any] = dict(read_library_states())
    for state in active_states():
        try:
            values[state.name] = state.read()
        except Exception:  # noqa: BLE001 - a library version we do not know: skip it
            continue
    if before is not None:
        for name, fresh in _FRESH.items():
            if name in values and name not in before:
                try:
                    before[name] = fresh()
                except Exception:  # noqa: BLE001 - then the whole state is stored
                    continue
    return values


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - arrays inside states compare element-wise
        try:
            import pickle

            return pickle.dumps(a) == pickle.dumps(b)
        except Exception:  # noqa: BLE001
            return False


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Return the states that differ after a run: dict states as their changed keys only."""
    changed: dict[str, Any] = {}
    for name, value in after.items():
        old = before.get(name)
        if name in before and _same(old, value):
            continue
        if isinstance(value, dict) and isinstance(old, dict):
            value = {k: v for k, v in value.items() if k not in old or not _same(old[k], v)}
            if not value:
                continue
        changed[name] = value
    return changed


def write_changes(values: dict[str, Any]) -> list[str]:
    """Write stored states back; return the names of those that could not be written."""
    by_name = {state.name: state for state in STATES}
    failed: list[str] = []
    for name, value in values.items():
        state = by_name.get(name)
        try:
            if state is None:
                written = write_library_state(name, value)
            elif state.write is not None and state.module in sys.modules:
                state.write(value)
                written = True
            else:
                written = False
        except Exception:  # noqa: BLE001 - report, never break the restore
            written = False
        if not written:
            failed.append(name)
    return failed

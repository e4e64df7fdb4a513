"""Library states a cell can change through calls: random seeds, plot and display settings.

``np.random.seed(0)``, ``random.seed(0)``, ``plt.style.use(...)``, ``sns.set_theme()``,
``pd.set_option(...)``, ``np.set_printoptions(...)``, ``warnings.filterwarnings(...)``,
``sys.path.append(...)`` and ``os.chdir(...)`` change state that later cells depend on,
without binding any name. Each such state is read before and after a cell runs; what
changed is stored with the cell and written back on a hit, so later cells see what they
would see after a run. A state is only read when its library is already imported: this
module never imports one.

This is the cell side's copy of the registry agreed in /work/coord/AMBIENT_SEAM.md
(``AmbientState`` with ``name``, ``module``, ``read`` and ``write``).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["AmbientState", "active_states", "changes", "snapshot", "write_changes"]


@dataclass(frozen=True)
class AmbientState:
    """One library state: how to read it (a picklable value) and write it back."""

    name: str
    module: str
    read: Callable[[], Any]
    write: Callable[[Any], None] | None
    fresh: Callable[[], Any] | None = None  # the value right after the import, if known


def _module(name: str) -> Any:
    return sys.modules[name]


def _pandas_options() -> dict[str, Any]:
    config = _module("pandas._config.config")
    deprecated = set(getattr(config, "_deprecated_options", {}))
    keys = [key for key in config._registered_options if key not in deprecated]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {key: config.get_option(key) for key in keys}


def _pandas_defaults() -> dict[str, Any]:
    config = _module("pandas._config.config")
    return {key: option.defval for key, option in config._registered_options.items()}


def _set_pandas_options(values: dict[str, Any]) -> None:
    config = _module("pandas._config.config")
    for key, value in values.items():
        config.set_option(key, value)


def _rc_params() -> dict[str, Any]:
    # The backend's own keys are left out: reading ``backend`` picks a backend (importing
    # pyplot), and ``interactive`` follows the backend, not the user's settings. ``_get``
    # reads a value without side effects, where matplotlib has it.
    params = _module("matplotlib").rcParams
    get = getattr(params, "_get", None) or params.__getitem__
    return {key: get(key) for key in params if key not in _BACKEND_KEYS}


_BACKEND_KEYS = frozenset({"backend", "backend_fallback", "interactive"})


def _set_rc_params(values: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated keys warn even when set to themselves
        _module("matplotlib").rcParams.update(values)


def _numpy_random() -> Any:
    return _module("numpy.random").get_state()


def _print_options() -> Any:
    return _module("numpy").get_printoptions()


def _set_numpy_random(state: Any) -> None:
    _module("numpy.random").set_state(state)


def _set_print_options(values: dict[str, Any]) -> None:
    _module("numpy").set_printoptions(**values)


def _set_filters(filters: list[Any]) -> None:
    filters_list: Any = warnings.filters  # typed as a Sequence, but a list
    filters_list[:] = filters
    warnings._filters_mutated()  # type: ignore[attr-defined]  # drop per-module caches


def _set_sys_path(paths: list[str]) -> None:
    sys.path[:] = paths


def _set_random(state: Any) -> None:
    _module("random").setstate(state)


def _set_torch_seed(state: Any) -> None:
    _module("torch").random.set_rng_state(state)


STATES: tuple[AmbientState, ...] = (
    AmbientState("random", "random", lambda: _module("random").getstate(), _set_random),
    AmbientState("numpy.random", "numpy.random", _numpy_random, _set_numpy_random),
    AmbientState("numpy print options", "numpy", _print_options, _set_print_options),
    AmbientState(
        "pandas options",
        "pandas._config.config",
        _pandas_options,
        _set_pandas_options,
        _pandas_defaults,
    ),
    AmbientState("matplotlib.rcParams", "matplotlib", _rc_params, _set_rc_params),
    AmbientState(
        "torch random", "torch", lambda: _module("torch").random.get_rng_state(), _set_torch_seed
    ),
    AmbientState("warning filters", "warnings", lambda: list(warnings.filters), _set_filters),
    AmbientState("sys.path", "sys", lambda: list(sys.path), _set_sys_path),
    AmbientState("working directory", "os", os.getcwd, os.chdir),
)


def active_states() -> tuple[AmbientState, ...]:
    """Return the registered states whose library is imported (importing nothing)."""
    return tuple(state for state in STATES if state.module in sys.modules)


def snapshot(before: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read every active state; states that cannot be read are left out.

    Given the snapshot taken ``before`` a run, a state whose library the run imported
    is compared with its value right after an import, where that is known, so only
    what the cell itself changed is stored.
    """
    values: dict[str, Any] = {}
    for state in active_states():
        try:
            values[state.name] = state.read()
            if before is not None and state.name not in before and state.fresh is not None:
                before[state.name] = state.fresh()
        except Exception:  # noqa: BLE001 - a library version we do not know: skip it
            values.pop(state.name, None)
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
        if state is None or state.write is None or state.module not in sys.modules:
            failed.append(name)
            continue
        try:
            state.write(value)
        except Exception:  # noqa: BLE001 - report, never break the restore
            failed.append(name)
    return failed

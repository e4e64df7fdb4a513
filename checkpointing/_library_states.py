"""The library states checkpointing knows: random states, ``rcParams``, pandas options.

They are numpy's legacy global random state, the ``random`` module's, matplotlib's
``rcParams`` and pandas' options.

For each, how to read it (a copy, cheaply), how to set it back, and for the random
states which objects draw from the global generator (``uses``) or reset it (``sets``:
a ``seed`` function), plus a compact form of a reading that hashes fast. Nothing here
imports a library: each function receives the module, or finds it in ``sys.modules``.
:mod:`checkpointing._ambient` registers them as ambient states at import.
"""

from __future__ import annotations

import array
import sys
from types import ModuleType
from typing import Any

__all__ = [
    "matplotlib_read",
    "matplotlib_write",
    "numpy_legacy_generator",
    "numpy_random_compact",
    "numpy_random_read",
    "numpy_random_sets",
    "numpy_random_uses",
    "numpy_random_write",
    "pandas_read",
    "pandas_write",
    "random_compact",
    "random_read",
    "random_sets",
    "random_uses",
    "random_write",
]


def numpy_random_read(numpy: ModuleType) -> object:
    """Return numpy's legacy global random state."""
    return numpy.random.get_state()


def numpy_random_write(numpy: ModuleType, value: Any) -> None:
    """Set numpy's legacy global random state back to ``value``."""
    numpy.random.set_state(value)


def numpy_legacy_generator() -> object:
    """Return numpy's global ``RandomState`` if numpy.random is imported, else ``None``."""
    numpy = sys.modules.get("numpy")
    mtrand = sys.modules.get("numpy.random.mtrand")
    if numpy is None or mtrand is None:
        return None
    return getattr(mtrand, "_rand", None)


def numpy_random_uses(obj: object) -> bool:
    """Tell whether ``obj`` draws from numpy's global random state."""
    legacy = numpy_legacy_generator()
    # Functions bound to the global generator only: the module itself is reached by every
    # ``import numpy.random`` and by seeded uses (``np.random.default_rng(0)``).
    return legacy is not None and getattr(obj, "__self__", None) is legacy


def numpy_random_sets(obj: object) -> bool:
    """Tell whether ``obj`` is numpy's global ``seed``."""
    legacy = numpy_legacy_generator()
    if legacy is None:
        return False
    # numpy 2's np.random.seed is a module function; numpy 1's a bound method of _rand.
    mtrand = sys.modules["numpy.random.mtrand"]
    return obj is getattr(mtrand, "seed", None) or obj == getattr(legacy, "seed", None)


def numpy_random_compact(value: Any) -> object:
    """Return a numpy random state in a form cheap to hash."""
    # ('MT19937', key array, pos, has_gauss, gauss): the array as bytes, hashed at once.
    return (value[0], value[1].tobytes(), *value[2:])


def random_compact(value: Any) -> object:
    """Return a ``random`` module state in a form cheap to hash."""
    # (version, 625 ints, gauss): the ints as one bytes object, not 625 pickled ints.
    return (value[0], array.array("Q", value[1]).tobytes(), value[2])


def random_read(random: ModuleType) -> object:
    """Return the ``random`` module's global state."""
    return random.getstate()


def random_write(random: ModuleType, value: Any) -> None:
    """Set the ``random`` module's global state back to ``value``."""
    random.setstate(value)


def random_uses(obj: object) -> bool:
    """Tell whether ``obj`` draws from the ``random`` module's global generator."""
    random = sys.modules.get("random")
    if random is None:
        return False
    return getattr(obj, "__self__", None) is getattr(random, "_inst", None)


def random_sets(obj: object) -> bool:
    """Tell whether ``obj`` is ``random.seed``."""
    random = sys.modules.get("random")
    return random is not None and obj == getattr(random, "seed", None)


# rcParams keys that name where figures go, not how they look; setting "backend" back
# would switch backends.
_RC_SKIPPED = frozenset({"backend", "backend_fallback", "interactive"})


def matplotlib_read(matplotlib: ModuleType) -> object:
    """Return matplotlib's ``rcParams`` except where figures go."""
    # dict's own items: RcParams.__getitem__ resolves the backend and validates.
    return {k: v for k, v in dict.items(matplotlib.rcParams) if k not in _RC_SKIPPED}


def matplotlib_write(matplotlib: ModuleType, value: Any) -> None:
    """Set back the ``rcParams`` that differ from ``value``."""
    params = matplotlib.rcParams
    changed = {k: v for k, v in value.items() if dict.get(params, k) != v}
    if changed:
        params.update(changed)


def pandas_read(pandas: ModuleType) -> object:
    """Return pandas' options, flattened to dotted names (deprecated ones left out)."""
    from pandas._config import config  # already imported with pandas

    flat: dict[str, object] = {}
    deprecated = getattr(config, "_deprecated_options", {})

    def walk(prefix: str, node: dict[str, Any]) -> None:
        for key, item in node.items():
            path = f"{prefix}{key}"
            if type(item) is dict:
                walk(path + ".", item)
            elif path not in deprecated:
                flat[path] = item

    walk("", vars(config)["_global_config"])
    return flat


def pandas_write(pandas: ModuleType, value: Any) -> None:
    """Set back the pandas options that differ from ``value``."""
    current = pandas_read(pandas)
    assert isinstance(current, dict)
    for key, item in value.items():
        if key in current and current[key] != item:
            pandas.set_option(key, item)

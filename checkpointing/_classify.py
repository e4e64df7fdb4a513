"""Tell whether a module is the user's code (followed by content) or a library (versioned).

Decided once per module name and remembered; a library is reported with the version of
the distribution that provides it, so upgrading a library changes the keys that use it.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
from types import ModuleType

__all__ = ["is_user_module", "package_version"]

_PYTHON = f"python-{sys.version_info[0]}.{sys.version_info[1]}"

_user_modules: dict[str, bool] = {}
_versions: dict[str, str] = {}


@functools.cache
def _roots() -> tuple[str, ...]:
    """Return the directories that hold the standard library and installed packages."""
    roots: set[str] = set()
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if key in paths:
            roots.add(paths[key])
    try:
        roots.update(site.getsitepackages())
        roots.add(site.getusersitepackages())
    except AttributeError:  # pragma: no cover - some embedded interpreters lack these
        pass
    roots.update(p for p in sys.path if "site-packages" in p or "dist-packages" in p)
    resolved = {os.path.join(os.path.realpath(r), "") for r in roots if r}
    return tuple(sorted(resolved))


def is_user_module(name: str | None) -> bool:
    """Tell whether module ``name`` is the user's code (followed) or a library (versioned).

    A module is a library when it is built in, part of the standard library or
    installed in a site-packages directory; anything else, including ``__main__``,
    notebook cells and modules of the user's own project, is user code.
    """
    if not name:
        return True
    known = _user_modules.get(name)
    if known is not None:
        return known
    top = name.partition(".")[0]
    module = sys.modules.get(name)
    if name == "__main__":
        user = True
    elif top in sys.stdlib_module_names or name in sys.builtin_module_names:
        user = False
    elif module is None:
        # Not imported (yet): decide by its package if that is loaded, and do not
        # remember the answer, which may change once the module is imported.
        return _is_user_file(sys.modules.get(top))
    else:
        # A module without a file (a namespace package) is judged by its top package.
        user = _is_user_file(module if getattr(module, "__file__", None) else sys.modules.get(top))
    _user_modules[name] = user
    return user


def _is_user_file(module: ModuleType | None) -> bool:
    """Tell whether ``module``'s file lies outside every library root (absent: user code)."""
    file = getattr(module, "__file__", None)
    return file is None or not os.path.realpath(file).startswith(_roots())


def package_version(module_name: str | None) -> str:
    """Return the version of the distribution that provides ``module_name``."""
    top = (module_name or "").partition(".")[0]
    version = _versions.get(top)
    if version is not None:
        return version
    if not top or top in sys.stdlib_module_names or top == "builtins":
        version = _PYTHON
    else:
        attr = getattr(sys.modules.get(top), "__version__", None)
        version = attr if isinstance(attr, str) else _distribution_version(top)
    _versions[top] = version
    return version


def _distribution_version(top: str) -> str:
    import importlib.metadata  # costs ~15 ms: only when a library needs its version

    try:
        return importlib.metadata.version(top)
    except importlib.metadata.PackageNotFoundError:
        pass
    for dist in importlib.metadata.packages_distributions().get(top, []):
        try:
            return f"{dist}-{importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"

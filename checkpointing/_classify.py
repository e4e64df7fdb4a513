"""Tell whether a module is the user's code (followed by content) or a library (versioned).

Decided once per module name and remembered, by where the module's file lives (the
interpreter's standard library directory, a site-packages directory), never by its
name: a project package called ``json`` or ``code`` is the user's code. A library is
reported with the version of the distribution that provides it, so upgrading a library
changes the keys that use it.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
from types import ModuleType

__all__ = ["is_user_class", "is_user_module", "module_of", "package_version"]

_PYTHON = f"python-{sys.version_info[0]}.{sys.version_info[1]}"

_OWN_PACKAGES = frozenset({"checkpointing", "ipython_ext"})
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

    Decided by where the module's file lives, never by its name: a module is a library
    when it is built into the interpreter, frozen, or its file lies in the standard
    library or a site-packages directory. Anything else, including ``__main__``,
    notebook cells and a project package that happens to be called ``json``, ``code`` or
    ``statistics``, is user code.
    """
    if not name:
        return True
    known = _user_modules.get(name)
    if known is not None:
        return known
    module = sys.modules.get(name)
    if name == "__main__":
        user = True
    elif name.partition(".")[0] in _OWN_PACKAGES:
        user = False  # this library itself, wherever it is installed from
    elif name in sys.builtin_module_names:
        user = False  # compiled into the interpreter: nothing on disk can shadow it
    elif module is None:
        # Not imported (yet): judge by its loaded top package; with none loaded, by
        # name as a last resort. Not remembered: the answer may change on import.
        top = sys.modules.get(name.partition(".")[0])
        if top is not None:
            return _is_user_file(top)
        return name.partition(".")[0] not in sys.stdlib_module_names
    else:
        user = _is_user_file(module)
    _user_modules[name] = user
    return user


def _is_user_file(module: ModuleType) -> bool:
    """Tell whether ``module`` lives outside every library root (no file: by its package)."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.origin in ("built-in", "frozen"):
            return False
        # A namespace package: judged by its directories; none at all: user code.
        paths = list(getattr(module, "__path__", None) or ())
        if not paths:
            top = sys.modules.get(module.__name__.partition(".")[0])
            if top is not None and top is not module:
                return _is_user_file(top)
            return True
        return any(_outside_roots(path) for path in paths)
    return _outside_roots(file)


def _outside_roots(path: str) -> bool:
    return not os.path.realpath(path).startswith(_roots())


def package_version(module_name: str | None) -> str:
    """Return the version of the distribution that provides ``module_name``."""
    top = (module_name or "").partition(".")[0]
    version = _versions.get(top)
    if version is not None:
        return version
    if not top or top == "builtins" or (top in sys.stdlib_module_names and not is_user_module(top)):
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


def module_of(cls: type) -> str:
    """Return the module ``cls`` was defined in (a Cython metatype has no usable one)."""
    module: object = cls.__module__
    return module if isinstance(module, str) else "builtins"


def is_user_class(cls: type) -> bool:
    """Tell whether ``cls`` is user code: a Python class defined in a user module.

    A class statement (or ``type(...)``) records its module in the class's own
    namespace; types of compiled extensions do not (Cython's name fileless modules
    such as ``_cython_3_3_1``, which would otherwise pass for user code).
    """
    module = vars(cls).get("__module__")
    return isinstance(module, str) and is_user_module(module)

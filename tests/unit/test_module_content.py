"""Project modules reached as values: identified by content, cached, never stale."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from checkpointing import _module_content
from checkpointing._classify import is_user_module
from checkpointing._hashing import hash_values, hasher_factory


def _digest(value: object) -> str:
    return hash_values(value, hasher_factory("xxh3_128"), 5).hexdigest()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path for project modules; they are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def _load(project: Path, name: str, source: str) -> Any:
    (project / f"{name}.py").write_text(source)
    importlib.invalidate_caches()
    return importlib.import_module(name)


def test_rebinding_a_global_changes_the_digest(project: Path) -> None:
    """``settings.SCALE = 4`` gives the module a new digest; setting it back the old one."""
    settings = _load(project, "settings_a", "SCALE = 3\n\ndef scaled(x):\n    return x * SCALE\n")
    first = _digest(settings)
    settings.SCALE = 4
    assert _digest(settings) != first
    settings.SCALE = 3
    assert _digest(settings) == first


def test_mutating_a_list_global_changes_the_digest(project: Path) -> None:
    """A list global changed in place is seen (mutable globals are hashed on every call)."""
    registry = _load(project, "registry_a", "ITEMS = [1, 2]\n")
    first = _digest(registry)
    registry.ITEMS.append(3)
    assert _digest(registry) != first


def test_replacing_a_function_changes_the_digest(project: Path) -> None:
    """A function of the module replaced at run time, or its defaults, changes the digest."""
    module = _load(project, "funcs_a", "def f(x, k=1):\n    return x + k\n")
    first = _digest(module)
    module.f.__defaults__ = (2,)
    second = _digest(module)
    assert second != first
    module.f = lambda x: x
    assert _digest(module) not in (first, second)


def test_unchanged_module_is_split_once(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashing an unchanged module again reuses its split: content is not worked out per call."""
    module = _load(project, "stable_a", "A = 1\n\ndef f(x):\n    return x + A\n")
    _digest(module)
    calls: list[ModuleType] = []
    original = _module_content._split

    def counting(mod: ModuleType, *args: Any) -> Any:
        calls.append(mod)
        return original(mod, *args)

    monkeypatch.setattr(_module_content, "_split", counting)
    for _ in range(5):
        _digest(module)
    assert calls == []
    module.A = 2
    _digest(module)
    assert calls == [module]


def test_unhashable_global_is_identified_by_type(project: Path) -> None:
    """A lock in a module does not make the module unhashable."""
    module = _load(project, "locked_a", "import threading\nLOCK = threading.Lock()\nN = 1\n")
    first = _digest(module)
    module.N = 2
    assert _digest(module) != first


def test_modules_importing_each_other_hash(project: Path) -> None:
    """Two project modules that import each other hash without recursing forever."""
    (project / "cyc_b.py").write_text("import cyc_a\nB = 2\n")
    module = _load(project, "cyc_a", "import cyc_b\nA = 1\n")
    assert _digest(module) == _digest(module)


def test_project_package_named_like_stdlib_is_user_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project package called ``code`` is user code: judged by its file, not its name."""
    package = tmp_path / "code"
    package.mkdir()
    (package / "__init__.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "code", raising=False)
    monkeypatch.setattr("checkpointing._classify._user_modules", {})
    importlib.invalidate_caches()
    module = importlib.import_module("code")
    try:
        assert module.__file__ is not None
        assert module.__file__.startswith(str(tmp_path))
        assert is_user_module("code")
    finally:
        del sys.modules["code"]


def test_standard_library_and_builtins_are_libraries() -> None:
    """json, os, sys and frozen modules are libraries wherever they are judged from."""
    for name in ("json", "os", "sys", "builtins", "_io", "zipimport", "checkpointing"):
        importlib.import_module(name)
        assert not is_user_module(name), name

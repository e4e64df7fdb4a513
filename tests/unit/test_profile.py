"""Unit tests of per-code-object profiles: source is used only when proven current."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from checkpointing._classify import is_user_module, package_version
from checkpointing._profile import profile_of

K = 1


def plain(x: int) -> int:
    """Read a global."""
    return x + K


def make_inner() -> Callable[..., int]:
    """Return a closure with a default."""
    y = 2

    def inner(a: int, b: int = 3) -> int:
        return a + y + b

    return inner


class Base:
    def m(self) -> int:
        return 1


class Child(Base):
    def m(self) -> int:
        return super().m() + 1

    @staticmethod
    def st(q: int) -> int:
        return q


def lambda_holder() -> Callable[[int, int], int]:
    """Return a lambda."""
    return lambda a, b: a - b


def make_cached() -> Callable[..., Any]:
    """Return a closure that was wrapped by lru_cache."""
    z = [1]

    @functools.lru_cache
    def cached(n: int) -> list[int]:
        return [v for v in z if v > n]

    return cached.__wrapped__


async def coro(x: Any) -> list[Any]:
    """Use an async comprehension."""
    return [i async for i in x]


def with_walrus(xs: list[int]) -> tuple[list[int], int]:
    """Bind a local from a comprehension."""
    return [(y := v) for v in xs], y


@pytest.mark.parametrize(
    "func",
    [plain, make_inner(), Child.m, Child.st, lambda_holder(), make_cached(), coro, with_walrus],
    ids=lambda f: f.__qualname__,
)
def test_source_is_verified_for_every_kind_of_function(func: Any) -> None:
    """Closures, super(), static methods, lambdas, async and walrus code verify."""
    assert profile_of(func).source is not None


@pytest.fixture
def module_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory on sys.path for throwaway modules."""
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("edited_module", None)


def test_source_edited_after_import_is_not_trusted(module_dir: Path) -> None:
    """A function whose file changed since import is identified by its running code."""
    path = module_dir / "edited_module.py"
    path.write_text("def helper(x):\n    return x + 1\n")
    module = importlib.import_module("edited_module")
    path.write_text("def helper(x):\n    return x + 2\n")
    profile = profile_of(module.helper)
    assert profile.source is None  # fell back to the code object, which says "+ 1"


def test_unchanged_module_source_is_used(module_dir: Path) -> None:
    """A module whose file is untouched is identified by its normalized source."""
    path = module_dir / "edited_module.py"
    path.write_text("def helper(x):\n    return x + 1\n")
    module = importlib.import_module("edited_module")
    assert profile_of(module.helper).source == "def helper(x):\n    return x + 1\n"


def test_library_and_user_modules_are_told_apart() -> None:
    """Standard library and site-packages are libraries; this test module is user code."""
    import numpy  # noqa: F401 - modules are classified once imported

    assert not is_user_module("json")
    assert not is_user_module("numpy")
    assert not is_user_module("builtins")
    assert is_user_module(__name__)
    assert is_user_module("__main__")


def test_library_versions_are_found() -> None:
    """A library's version comes from its distribution; the stdlib's is Python's."""
    import numpy

    assert package_version("numpy.linalg") == numpy.__version__
    assert package_version("json").startswith("python-3.")


def test_source_compiled_apart_from_its_imports_is_accepted() -> None:
    """A definition compiled without the import above it in its text still verifies.

    IPython compiles each top-level statement of a cell on its own, so the import form
    of ``json.dumps(x)`` differs from what compiling the whole cell would give.
    """
    import linecache

    filename = "<cell-like-text>"
    text = "import json\ndef f(x):\n    return json.dumps(x)\n"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace: dict[str, Any] = {}
    exec(compile("import json\n", filename, "exec"), namespace)
    exec(compile("\ndef f(x):\n    return json.dumps(x)\n", filename, "exec"), namespace)
    try:
        assert profile_of(namespace["f"]).source is not None
    finally:
        linecache.cache.pop(filename, None)

"""``f.explain(...)``: why a call misses, component by component, across processes.

Each test stores an entry in one process, changes one thing (a source file, a library
version) and asks a new process why the call misses, as a user editing a script would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from checkpointing import MemoryCache, checkpoint
from checkpointing.explain import Explanation

REPO_ROOT = Path(__file__).resolve().parents[1]

MODULE = """
import checkpointing
import fakelib

LIMIT = 3
SCALE = {"a": 1}

def helper(v, k=2):
    return v * k

class Model:
    def fit(self, v):
        return v + 1

def make(offset):
    def shifted(v):
        return v + offset
    return shifted

shift = make(10)

@checkpointing.checkpoint(".cache")
def f(x, y=1):
    '''Add things up.'''
    return helper(x) + y + LIMIT + SCALE["a"] + Model().fit(x) + shift(x) + fakelib.one()
"""

LIBRARY = """
__version__ = "{version}"
def one():
    return 1
"""


def _run(directory: Path, script: str) -> str:
    """Run ``script`` in a fresh process in ``directory``; return what it printed."""
    env = dict(os.environ)
    site = directory / "site-packages"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(directory), str(site)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _project(directory: Path, module: str = MODULE, version: str = "1.0") -> None:
    """Write the user's module and a library installed in a site-packages directory."""
    (directory / "mod.py").write_text(textwrap.dedent(module))
    library = directory / "site-packages" / "fakelib"
    library.mkdir(parents=True, exist_ok=True)
    (library / "__init__.py").write_text(LIBRARY.format(version=version))


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A project whose ``f(1)`` has been computed and stored by an earlier process."""
    _project(tmp_path)
    _run(tmp_path, "import mod; mod.f(1)")
    return tmp_path


def _explain(directory: Path, call: str = "1") -> str:
    return _run(directory, f"import mod; print(mod.f.explain({call}))")


def test_hit_says_nothing_changed(stored: Path) -> None:
    """A call whose result is stored is reported as a hit with nothing changed."""
    report = _explain(stored)
    assert report.startswith("nothing changed: mod.f(x=1, y=1) is a hit")


def test_never_called_when_the_cache_is_empty(tmp_path: Path) -> None:
    """With no entry of the function, the report says it was never called."""
    _project(tmp_path)
    assert _explain(tmp_path).startswith("never called: the cache holds no entry of mod.f")


def test_different_argument_is_named(stored: Path) -> None:
    """A call with new arguments is "never called with these arguments", naming the parameter."""
    report = _explain(stored, "1, y=5")
    assert report.startswith("never called with these arguments: mod.f(x=1, y=5) is a miss.")
    assert "argument 'y' differs" in report
    assert "argument 'x'" not in report


def test_changed_global_is_named(stored: Path) -> None:
    """Editing a global's value is reported by the global's name, and nothing else."""
    _project(stored, MODULE.replace("LIMIT = 3", "LIMIT = 4"))
    report = _explain(stored)
    assert report.splitlines()[0].startswith("mod.f(x=1, y=1) is a miss: global 'LIMIT' changed")
    assert "SCALE" not in report
    assert "argument" not in report


def test_changed_closure_value_is_named(stored: Path) -> None:
    """A closure variable of a reached helper that changed value is named."""
    _project(stored, MODULE.replace("make(10)", "make(11)"))
    report = _explain(stored)
    assert "global 'offset' changed" in report
    assert "LIMIT" not in report


def test_changed_helper_code_is_named_with_a_diff(stored: Path) -> None:
    """A helper whose code changed is named and its normalized code shown as a diff."""
    _project(stored, MODULE.replace("return v * k", "return v * k * 2"))
    report = _explain(stored)
    assert "code of helper changed" in report
    assert "-    return v * k" in report
    assert "+    return v * k * 2" in report


def test_formatting_and_comments_are_not_changes(stored: Path) -> None:
    """Reformatting a helper and adding comments keeps the call a hit."""
    edited = MODULE.replace("return v * k", "# doubled\n    return (v *\n            k)")
    _project(stored, edited)
    assert _explain(stored).startswith("nothing changed")


def test_changed_method_code_is_named(stored: Path) -> None:
    """A method reached through a class is named by its qualified name."""
    _project(stored, MODULE.replace("return v + 1", "return v + 2"))
    report = _explain(stored)
    assert "code of Model.fit changed" in report
    assert "+    return v + 2" in report


def test_changed_function_code_is_named(stored: Path) -> None:
    """An edit of the checkpointed function itself is named."""
    _project(stored, MODULE.replace('SCALE["a"] +', 'SCALE["a"] * 2 +'))
    assert "code of f changed" in _explain(stored)


def test_changed_helper_default_is_named(stored: Path) -> None:
    """A changed default argument of a helper is named."""
    _project(stored, MODULE.replace("k=2", "k=3"))
    assert "default argument values of helper changed" in _explain(stored)


def test_changed_library_version_is_named(stored: Path) -> None:
    """Upgrading a library the call reaches is reported with both versions."""
    _project(stored, version="2.0")
    report = _explain(stored)
    assert "library fakelib changed version: 1.0 -> 2.0" in report
    assert "code of" not in report


def test_several_changes_are_all_listed(stored: Path) -> None:
    """Two changes at once are both listed under a count."""
    _project(stored, MODULE.replace("LIMIT = 3", "LIMIT = 5").replace("k=2", "k=4"))
    report = _explain(stored)
    assert "2 components changed" in report.splitlines()[0]
    assert "global 'LIMIT' changed" in report
    assert "default argument values of helper changed" in report


def test_closest_entry_is_chosen(stored: Path) -> None:
    """With several entries, the one with the same arguments is the one compared."""
    _run(stored, "import mod; mod.f(2); mod.f(3)")
    _project(stored, MODULE.replace("LIMIT = 3", "LIMIT = 4"))
    report = _explain(stored, "2")
    assert "global 'LIMIT' changed" in report
    assert "argument" not in report


def test_explain_runs_and_stores_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """Explaining a call neither runs the function nor stores a result."""
    cache = MemoryCache()

    @checkpoint(cache=cache)
    def g(x: int) -> int:
        print("ran")
        return x

    report = g.explain(4)
    assert isinstance(report, Explanation)
    assert not report.hit
    assert report.entries == 0
    assert capsys.readouterr().out == ""
    assert cache.entries() == []
    g(4)
    assert g.explain(4).hit
    assert "nothing changed" in repr(g.explain(4))


def test_explain_of_a_wrong_call_raises_type_error(tmp_path: Path) -> None:
    """Explaining a call that does not match the signature raises the usual TypeError."""

    @checkpoint(cache=MemoryCache())
    def g(x: int) -> int:
        return x

    with pytest.raises(TypeError):
        g.explain(1, 2)  # type: ignore[call-arg]


def test_state_mutated_by_the_run_is_explained(tmp_path: Path) -> None:
    """Components describe the state before the run: a global the call appends to is named."""
    runs: list[int] = []

    @checkpoint(cache=MemoryCache())
    def g(x: int) -> int:
        runs.append(x)
        return x

    g(1)
    report = g.explain(1)
    assert not report.hit
    assert [(c.kind, c.name) for c in report.changes] == [("global", "runs")]


def test_explanation_exposes_changes_as_data(stored: Path) -> None:
    """The report's changes can be read by a program: kind, name, before and after."""
    _project(stored, version="3.1")
    out = _run(
        stored,
        """
        import mod
        e = mod.f.explain(1)
        print([(c.kind, c.name, c.before, c.after) for c in e.changes])
        print(e.hit, e.same_arguments, e.entries)
        """,
    )
    assert out.splitlines() == ["[('version', 'fakelib', '1.0', '3.1')]", "False True 1"]

"""What a ``%%checkpoint`` cell depends on: imports, functions it calls, semantic annotations.

The analysis tests read cells statically; the kernel tests run a notebook, edit it (or a
module it imports), restart the kernel and run it again, as a user would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ipython_ext.cell.analysis import analyse_cell
from ipython_ext.cell.source import normalized_cell_code

# --------------------------------------------------------------------------- analysis


@pytest.mark.parametrize(
    ("code", "inputs"),
    [
        ("def f(v):\n    return v * factor\ny = f(2)\nfactor = 10", ["factor"]),
        ("def f(v):\n    return v * factor\nif c:\n    factor = 1\ny = f(2)", ["factor", "c"]),
        ("factor = 2\ndef f(v):\n    return v * factor\ny = f(2)", []),
        ("def f(v):\n    return v * factor\nfactor = 2\ny = f(2)", []),
        ("def g():\n    return K\ndef f():\n    return g()\ny = f()\nK = 3", ["K"]),
        ("def f():\n    return g()\ndef g():\n    return K\nK = 1\ny = f()", []),
        ("f = lambda v: v * factor\ny = f(1)\nfactor = 3", ["factor"]),
        ("y = sorted(xs, key=lambda v: v * w)\nw = 1", ["xs", "sorted", "w"]),
        (
            "def f(v):\n    return v * w\ny = sorted(xs, key=lambda v: f(v))\nw = 1",
            ["xs", "sorted", "w"],
        ),
        ("def f(v):\n    return v * w\nys = [f(v) for v in xs]\nw = 1", ["xs", "w"]),
        ("class C:\n    def m(self):\n        return K\ny = C().m()\nK = 1", ["K"]),
        ("@register\ndef f():\n    return K\nK = 1", ["register", "K"]),
        ("fs = [f0]\ndef f0():\n    return K\nfs.append(f0)\nK = 1", ["f0", "K"]),
        ("class Cfg:\n    LIMIT = LIMIT", ["LIMIT"]),
        ("class Cfg:\n    a = 1\n    b = a", []),
        ("LIMIT = 3\nclass Cfg:\n    LIMIT = LIMIT", []),
    ],
)
def test_globals_read_by_functions_the_cell_calls_are_inputs(code: str, inputs: list[str]) -> None:
    """A global a called function reads is an input unless surely bound before the call."""
    assert sorted(analyse_cell(code).inputs) == sorted(inputs)


@pytest.mark.parametrize(
    ("code", "inputs"),
    [
        ("y = eval('K * 2')", ["eval", "K"]),
        ("y = eval('[v * w for v in xs]')", ["eval", "xs", "w"]),
        ("exec('z = K')\ny = z", ["exec", "K"]),
        ("y = globals()['K']", ["globals", "K"]),
        ("y = globals().get('K', 0)", ["globals", "K"]),
        ("K = 1\ny = eval('K')", []),
        ("y = eval(expression)", ["eval", "expression"]),  # computed: see the guide
    ],
)
def test_names_read_through_constant_strings_are_inputs(code: str, inputs: list[str]) -> None:
    """``eval``/``exec`` of a constant string and ``globals()["K"]`` read what they name."""
    found = [name for name in analyse_cell(code).inputs if name not in ("eval", "exec", "globals")]
    assert sorted(found) == sorted(n for n in inputs if n not in ("eval", "exec", "globals"))


@pytest.mark.parametrize(
    ("code", "imports"),
    [
        ("import helpers\ny = helpers.f(1)", [("helpers", ()), ("helpers", ("f",))]),
        ("from helpers import f as g\ny = g(1)", [("helpers:f", ())]),
        ("import pkg.mod\ny = pkg.mod.f(1)", [("pkg.mod", ()), ("pkg.mod", ("f",))]),
        (
            "def run():\n    import helpers\n    return helpers.SCALE\ny = run()",
            [("helpers", ()), ("helpers", ("SCALE",))],
        ),
        ("from .helpers import f", []),  # a cell is no package: the import fails when run
        (
            "from helpers import *\ny = f(1)",
            [("helpers", ()), ("helpers:f", ())],
        ),
        ("m = importlib.import_module('helpers')", [("helpers", ())]),
    ],
)
def test_imports_anywhere_in_the_cell_are_recorded(code: str, imports: list[Any]) -> None:
    """Import statements of the cell and of functions it defines are dependencies."""
    assert list(analyse_cell(code).imports) == imports


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "@dataclass\nclass P:\n    size: ClassVar[int] = 2",
            "@dataclass\nclass P:\n    size: int = 2",
        ),
        (
            "@show.register\ndef _(x: int):\n    return 'int'",
            "@show.register\ndef _(x: float):\n    return 'int'",
        ),
        ("def f():\n    'Old.'\nprint(f.__doc__)", "def f():\n    'New.'\nprint(f.__doc__)"),
    ],
    ids=["class-body", "dispatch", "docstring-read"],
)
def test_semantic_annotations_and_read_docstrings_change_the_cell_code(
    before: str, after: str
) -> None:
    """Class-body and dispatch annotations, and docstrings the cell reads, count."""
    assert normalized_cell_code(before) != normalized_cell_code(after)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("def f(x: int) -> int:\n    return x", "def f(x: float) -> float:\n    return x"),
        ("def f():\n    'Old.'\n    return 1", "def f():\n    'New.'\n    return 1"),
        ("x: int = 1", "x: float = 1"),
    ],
    ids=["signature", "docstring-not-read", "module-variable"],
)
def test_cosmetic_annotations_and_docstrings_do_not_change_the_cell_code(
    before: str, after: str
) -> None:
    """Signature and variable annotations, and docstrings nobody reads, stay cosmetic."""
    assert normalized_cell_code(before) == normalized_cell_code(after)


# --------------------------------------------------------------------------- kernels

HELPER = "SCALE = {n}\n\ndef f(x):\n    return x + {n}\n"
LOAD = "%load_ext checkpointing"


def _ran(output: str) -> bool:
    return "loaded from cache" not in output


@pytest.mark.slow
@pytest.mark.parametrize(
    "body",
    [
        "import helpers\ny = helpers.f(1)",
        "import helpers as h\ny = h.SCALE + 1",
        "from helpers import f\ny = f(1)",
        "from helpers import SCALE\ny = SCALE + 1",
        "def run():\n    import helpers\n    return helpers.f(1)\ny = run()",
        "import helpers\ny = helpers.f(1)\ndel helpers",
        "from helpers import *\ny = f(1)",
    ],
    ids=[
        "import",
        "alias-constant",
        "from-function",
        "from-constant",
        "in-function",
        "del",
        "star",
    ],
)
def test_edited_module_imported_by_the_cell_reruns_it(
    run_notebook: Any, tmp_path: Path, body: str
) -> None:
    """After editing a module the cell imports, and a restart, the cell runs again."""
    cells = [LOAD, "%%checkpoint\n" + body + "\nprint(y)"]
    (tmp_path / "helpers.py").write_text(HELPER.format(n=10))
    first = run_notebook(cells, tmp_path)
    assert first.outputs[1].endswith("11\n")
    second = run_notebook(cells, tmp_path)
    assert not _ran(second.outputs[1])
    assert second.outputs[1].endswith("11\n")
    (tmp_path / "helpers.py").write_text(HELPER.format(n=20))
    third = run_notebook(cells, tmp_path)
    assert _ran(third.outputs[1])
    assert third.outputs[1].endswith("21\n")


@pytest.mark.slow
@pytest.mark.parametrize(
    "body",
    [
        "def f(v):\n    return v * factor\ny = f(2)\nfactor = 10",
        "def f(v):\n    return v * factor\nif False:\n    factor = 1\ny = f(2)",
        "def g(v):\n    return v * factor\ndef f(v):\n    return g(v)\ny = f(2)\nfactor = 0",
        "class C:\n    def m(self, v):\n        return v * factor\ny = C().m(2)\nfactor = 0",
    ],
    ids=["bound-later", "branch-not-taken", "through-another-function", "method"],
)
def test_global_read_by_a_function_the_cell_calls_is_an_input(
    run_notebook: Any, tmp_path: Path, body: str
) -> None:
    """A changed upstream value read inside a function the cell calls runs the cell again."""
    cached = "%%checkpoint\n" + body + "\nprint(y)"
    first = run_notebook([LOAD, "factor = 2", cached], tmp_path)
    assert first.outputs[2].endswith("4\n")
    second = run_notebook([LOAD, "factor = 3", cached], tmp_path)
    assert _ran(second.outputs[2])
    assert second.outputs[2].endswith("6\n")
    third = run_notebook([LOAD, "factor = 3", cached], tmp_path)
    assert not _ran(third.outputs[2])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("before", "after", "out1", "out2"),
    [
        (
            "from dataclasses import dataclass, fields\nfrom typing import ClassVar\n"
            "@dataclass\nclass P:\n    size: ClassVar[int] = 2\nprint(len(fields(P)))",
            "from dataclasses import dataclass, fields\nfrom typing import ClassVar\n"
            "@dataclass\nclass P:\n    size: int = 2\nprint(len(fields(P)))",
            "0\n",
            "1\n",
        ),
        (
            "from functools import singledispatch\n@singledispatch\ndef show(x):\n"
            "    return 'other'\n@show.register\ndef _(x: int):\n    return 'int'\nprint(show(1))",
            "from functools import singledispatch\n@singledispatch\ndef show(x):\n"
            "    return 'other'\n@show.register\ndef _(x: str):\n    return 'int'\nprint(show(1))",
            "int\n",
            "other\n",
        ),
        (
            "def f():\n    'Old.'\nprint(f.__doc__)",
            "def f():\n    'New.'\nprint(f.__doc__)",
            "Old.\n",
            "New.\n",
        ),
        (
            "from typing import NamedTuple, get_type_hints\nclass P(NamedTuple):\n    x: int\n"
            "print(get_type_hints(P)['x'].__name__)",
            "from typing import NamedTuple, get_type_hints\nclass P(NamedTuple):\n    x: float\n"
            "print(get_type_hints(P)['x'].__name__)",
            "int\n",
            "float\n",
        ),
    ],
    ids=["dataclass-classvar", "singledispatch", "printed-docstring", "type-hints"],
)
def test_semantic_annotation_or_read_docstring_edit_reruns_the_cell(
    run_notebook: Any, tmp_path: Path, before: str, after: str, out1: str, out2: str
) -> None:
    """Editing an annotation or docstring that changes what the cell does runs it again."""
    first = run_notebook([LOAD, "%%checkpoint\n" + before], tmp_path)
    assert first.outputs[1] == out1
    second = run_notebook([LOAD, "%%checkpoint\n" + after], tmp_path)
    assert second.outputs[1] == out2


@pytest.mark.slow
def test_cosmetic_annotation_and_docstring_edits_hit(run_notebook: Any, tmp_path: Path) -> None:
    """Signature annotations and docstrings nobody reads stay cosmetic in cells."""
    before = "def f(x: int) -> int:\n    'Doc.'\n    return x + 1\ny = f(1)\nprint(y)"
    after = "def f(x: float) -> float:\n    'Other doc.'\n    return x + 1\ny = f(1)\nprint(y)"
    run_notebook([LOAD, "%%checkpoint\n" + before], tmp_path)
    second = run_notebook([LOAD, "%%checkpoint\n" + after], tmp_path)
    assert not _ran(second.outputs[1])
    assert second.outputs[1].endswith("2\n")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("upstream", "renamed", "cached", "out1", "out2"),
    [
        (
            "def plus_one(x):\n    return x + 1\nMETRICS = [plus_one]",
            "def increment(x):\n    return x + 1\nMETRICS = [increment]",
            "print({f.__name__: f(1) for f in METRICS})",
            "{'plus_one': 2}\n",
            "{'increment': 2}\n",
        ),
        (
            "def helper():\n    'Old.'\nHELPERS = [helper]",
            "def helper():\n    'New.'\nHELPERS = [helper]",
            "print(HELPERS[0].__doc__)",
            "Old.\n",
            "New.\n",
        ),
    ],
    ids=["name", "docstring"],
)
def test_upstream_name_or_docstring_the_cell_reads_reruns_it(
    run_notebook: Any,
    tmp_path: Path,
    upstream: str,
    renamed: str,
    cached: str,
    out1: str,
    out2: str,
) -> None:
    """A function's name or docstring the cell reads is part of its key; edits run it again."""
    first = run_notebook([LOAD, upstream, "%%checkpoint\n" + cached], tmp_path)
    assert first.outputs[2] == out1
    second = run_notebook([LOAD, renamed, "%%checkpoint\n" + cached], tmp_path)
    assert second.outputs[2] == out2

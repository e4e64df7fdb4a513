"""End to end: scoping rules that decide what a result depends on, edited between runs.

Each case runs a script, edits it (or a module it imports), and runs it again in a new
process: a changed result must be recomputed, and an edit that cannot change it must
hit. Covered: imports inside function bodies, parameter names of reached callables,
class-body annotations, class bodies reading globals, local-name introspection, and
code that reads ``__name__``/``__doc__``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scriptcase import Step, check_case, run_steps

pytestmark = pytest.mark.slow


# --- imports inside function bodies (issue 7 item 1) ------------------------------------

HELPER = (
    "def f(x):\n    return x + {n}\n\nSCALE = {n}\n\n"
    "class Thing:\n    def g(self, x):\n        return x * {n}\n"
)

BODY_IMPORTS = {
    "import module": ("import helpers", "helpers.f(x)"),
    "import module as alias": ("import helpers as h", "h.f(x)"),
    "from module import function": ("from helpers import f", "f(x)"),
    "from module import function as alias": ("from helpers import f as g", "g(x)"),
    "from module import class": ("from helpers import Thing", "Thing().g(x) + 1"),
    "module constant": ("import helpers", "x + helpers.SCALE"),
    "from module import constant": ("from helpers import SCALE", "x + SCALE"),
    "import package.module": ("import pkg.helpers", "pkg.helpers.f(x)"),
    "from package import module": ("from pkg import helpers", "helpers.f(x)"),
    "importlib.import_module": (
        "import importlib; helpers = importlib.import_module('helpers')",
        "helpers.f(x)",
    ),
}


def _module_path(imports: str) -> str:
    return "pkg/helpers.py" if "pkg" in imports else "helpers.py"


@pytest.mark.parametrize(("imports", "expression"), BODY_IMPORTS.values(), ids=BODY_IMPORTS)
@pytest.mark.parametrize("where", ["checkpointed function", "helper"])
def test_edited_module_imported_inside_a_function_reruns(
    tmp_path: Path, imports: str, expression: str, where: str
) -> None:
    """A project module imported inside the function (or a helper it calls) is followed."""
    if where == "helper":
        script = f"""
        from checkpointing import checkpoint

        def compute(x):
            {imports}
            return {expression}

        @checkpoint()
        def foo(x):
            print("Running")
            return compute(x)

        print(foo(1))
        """
    else:
        script = f"""
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            {imports}
            return {expression}

        print(foo(1))
        """
    module = _module_path(imports)
    first = {module: HELPER.replace("{n}", "10")}
    if module.startswith("pkg/"):
        first["pkg/__init__.py"] = ""
    run_steps(
        tmp_path,
        Step(script, "Running\n11\n", files=first),
        Step(script, "11\n"),
        Step(script, "Running\n21\n", files={module: HELPER.replace("{n}", "20")}),
        Step(script, "21\n"),
    )


@pytest.mark.parametrize(
    "imports",
    ["from .helpers import f", "from . import helpers", "from .sub.helpers import f"],
)
def test_edited_module_imported_relatively_inside_a_function_reruns(
    tmp_path: Path, imports: str
) -> None:
    """Relative imports in a function body resolve against its package and are followed."""
    expression = "helpers.f(x)" if imports == "from . import helpers" else "f(x)"
    module = "pkg/sub/helpers.py" if ".sub" in imports else "pkg/helpers.py"
    main = f"""
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x):
        print("Running")
        {imports}
        return {expression}
    """
    script = "from pkg.main import foo\nprint(foo(1))\n"
    first = {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/main.py": main,
        module: HELPER.replace("{n}", "10"),
    }
    run_steps(
        tmp_path,
        Step(script, "Running\n11\n", files=first),
        Step(script, "11\n"),
        Step(script, "Running\n21\n", files={module: HELPER.replace("{n}", "20")}),
    )


@pytest.mark.parametrize(
    ("imports", "expression"),
    [("import helpers", "helpers.f(x)"), ("from helpers import f", "f(x)")],
    ids=["import", "from-import"],
)
def test_edited_module_imported_by_a_function_without_source_reruns(
    tmp_path: Path, imports: str, expression: str
) -> None:
    """Under ``python -c`` (keyed by bytecode) imports in the body are followed too."""
    script = f"""
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x):
        print("Running")
        {imports}
        return {expression}

    print(foo(1))
    """
    run_steps(
        tmp_path,
        Step(
            script, "Running\n11\n", files={"helpers.py": HELPER.replace("{n}", "10")}, inline=True
        ),
        Step(script, "11\n", inline=True),
        Step(
            script, "Running\n21\n", files={"helpers.py": HELPER.replace("{n}", "20")}, inline=True
        ),
    )


def test_optional_import_that_fails_is_part_of_the_key(tmp_path: Path) -> None:
    """``try: import x`` in a body: the key says the module is missing, and hits again."""
    script = """
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x):
        print("Running")
        try:
            import optional_helpers
        except ImportError:
            return x
        return optional_helpers.f(x)

    print(foo(1))
    """
    run_steps(
        tmp_path,
        Step(script, "Running\n1\n"),
        Step(script, "1\n"),
        Step(script, "Running\n11\n", files={"optional_helpers.py": HELPER.replace("{n}", "10")}),
        Step(script, "11\n"),
    )


def test_library_imported_inside_a_function_hits(tmp_path: Path) -> None:
    """``import numpy as np`` and ``from json import dumps`` in a body hit in a new process."""
    script = """
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x):
        print("Running")
        import numpy as np
        from json import dumps
        import xml.dom.minidom
        return dumps(int(np.sum(np.arange(x)))) + xml.dom.minidom.__name__[:3]

    print(foo(4))
    """
    run_steps(tmp_path, Step(script, "Running\n6xml\n"), Step(script, "6xml\n"))


# --- parameter names are an interface (item 3) ------------------------------------------

KEYWORD_CALLS = {
    "helper function": (
        "def helper(x, a=1, b=10):\n    return x * a + b\n",
        "def helper(x, b=1, a=10):\n    return x * b + a\n",
        "helper(x, a=2)",
    ),
    "method": (
        "class Calc:\n    def run(self, x, a=1, b=10):\n        return x * a + b\n",
        "class Calc:\n    def run(self, x, b=1, a=10):\n        return x * b + a\n",
        "Calc().run(x, a=2)",
    ),
    "module-level lambda": (
        "helper = lambda x, a=1, b=10: x * a + b\n",
        "helper = lambda x, b=1, a=10: x * b + a\n",
        "helper(x, a=2)",
    ),
    "renamed keyword-only": (
        "def helper(x, *, a=0, b=0):\n    return x + 10 * a + b\n",
        "def helper(x, *, b=0, a=0):\n    return x + 10 * b + a\n",
        "helper(x, a=3)",
    ),
    "checkpointed callee": (
        "@checkpoint()\ndef helper(x, a=1, b=10):\n    return x * a + b\n",
        "@checkpoint()\ndef helper(x, b=1, a=10):\n    return x * b + a\n",
        "helper(x, a=2)",
    ),
}


@pytest.mark.parametrize(("before", "after", "call"), KEYWORD_CALLS.values(), ids=KEYWORD_CALLS)
def test_renamed_parameter_of_a_reached_callable_reruns(
    tmp_path: Path, before: str, after: str, call: str
) -> None:
    """A callee whose parameters were renamed, called by keyword, gives a new result."""
    template = """
    from checkpointing import checkpoint

    {definition}
    @checkpoint()
    def foo(x):
        print("Running")
        return {call}

    print(foo(5))
    """

    def script(definition: str) -> str:
        indented = definition.replace("\n", "\n    ")
        return template.replace("{definition}", indented).replace("{call}", call)

    first = eval(call.replace("x", "5"), _namespace(before))  # the test's own code
    second = eval(call.replace("x", "5"), _namespace(after))
    assert first != second
    check_case(
        tmp_path, script(before), f"Running\n{first}\n", script(after), f"Running\n{second}\n"
    )


def _namespace(definition: str) -> dict[str, object]:
    namespace: dict[str, object] = {"checkpoint": lambda: lambda f: f}
    exec(definition, namespace)
    return namespace


def test_renamed_parameter_of_an_inner_function_called_by_keyword_reruns(tmp_path: Path) -> None:
    """Inner functions keep their parameter names: swapping them re-runs."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            def inner(v, lo=0, hi=100):
                return min(max(v, lo), hi)
            return inner(x, hi=3)

        print(foo(5))
        """,
        "Running\n3\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            def inner(v, hi=0, lo=100):
                return min(max(v, hi), lo)
            return inner(x, hi=3)

        print(foo(5))
        """,
        "Running\n5\n",
    )


def test_renamed_parameter_of_a_helper_called_positionally_reruns_once(tmp_path: Path) -> None:
    """Renaming a helper's parameter is a new key (it is its interface), then hits again."""
    helper = "def helper({p}):\n    return {p} + 1\n"
    script = """
    from checkpointing import checkpoint
    {helper}
    @checkpoint()
    def foo(x):
        print("Running")
        return helper(x)

    print(foo(1))
    """

    def with_param(name: str) -> str:
        return script.replace("{helper}", helper.replace("{p}", name).replace("\n", "\n    "))

    run_steps(
        tmp_path,
        Step(with_param("x"), "Running\n2\n"),
        Step(with_param("value"), "Running\n2\n"),
        Step(with_param("value"), "2\n"),
    )


# --- class-body annotations (item 7) -----------------------------------------------------

ANNOTATED_CLASSES = {
    "dataclass ClassVar inside function": (
        "from dataclasses import dataclass, fields\nfrom typing import ClassVar",
        "@dataclass\nclass P:\n    size: ClassVar[int] = 2",
        "@dataclass\nclass P:\n    size: int = 2",
        "len(fields(P))",
        "0",
        "1",
    ),
    "NamedTuple field type inside function": (
        "from typing import NamedTuple, get_type_hints",
        "class P(NamedTuple):\n    x: int",
        "class P(NamedTuple):\n    x: float",
        "get_type_hints(P)['x'].__name__",
        "int",
        "float",
    ),
}


@pytest.mark.parametrize(
    ("imports", "before", "after", "expression", "out1", "out2"),
    ANNOTATED_CLASSES.values(),
    ids=ANNOTATED_CLASSES,
)
def test_changed_class_body_annotation_reruns(
    tmp_path: Path, imports: str, before: str, after: str, expression: str, out1: str, out2: str
) -> None:
    """A class body's annotations define fields and types: editing them re-runs."""

    def script(cls: str) -> str:
        body = "\n".join("    " + line for line in cls.splitlines())
        return (
            f"{imports}\nfrom checkpointing import checkpoint\n\n"
            f"@checkpoint()\ndef foo():\n    print('Running')\n{body}\n"
            f"    return {expression}\n\nprint(foo())\n"
        )

    check_case(tmp_path, script(before), f"Running\n{out1}\n", script(after), f"Running\n{out2}\n")


@pytest.mark.parametrize(
    ("before", "after", "out1", "out2"),
    [
        ("size: ClassVar[int] = 2", "size: int = 2", "0", "1"),
        ("x: int = 0", "x: float = 0", "int", "float"),
        ("x: int = 0", "x: str = ''", "int", "str"),
    ],
    ids=["dataclass-classvar", "type-hint", "plain-class-type-hint"],
)
def test_changed_annotation_of_module_level_class_reruns(
    request: pytest.FixtureRequest, tmp_path: Path, before: str, after: str, out1: str, out2: str
) -> None:
    """Annotations of a class the function reaches are part of its key too."""
    expression = "len(fields(P))" if "ClassVar" in before else "get_type_hints(P)['x'].__name__"
    decorator = "" if "plain" in request.node.name else "@dataclass"
    template = """
    from dataclasses import dataclass, fields
    from typing import ClassVar, get_type_hints
    from checkpointing import checkpoint

    DECORATOR
    class P:
        FIELD

    @checkpoint()
    def foo():
        print("Running")
        return {expression}

    print(foo())
    """.replace("{expression}", expression).replace("DECORATOR", decorator)
    check_case(
        tmp_path,
        template.replace("FIELD", before),
        f"Running\n{out1}\n",
        template.replace("FIELD", after),
        f"Running\n{out2}\n",
    )


def test_signature_annotation_edit_of_inner_function_hits(tmp_path: Path) -> None:
    """Annotations of an undecorated inner function and of locals stay cosmetic."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            def inner(v: int) -> int:
                w: int = v + 1
                return w
            return inner(x)

        print(foo(1))
        """,
        "Running\n2\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            def inner(v: float) -> float:
                w: float = v + 1
                return w
            return inner(x)

        print(foo(1))
        """,
        "2\n",
    )


# --- scope rules (item 8) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "class Cfg:\n    LIMIT = LIMIT\nreturn Cfg.LIMIT",
        "LIMIT = 0\nclass Cfg:\n    LIMIT = LIMIT\nreturn Cfg.LIMIT",
        "class Cfg:\n    LIMIT = LIMIT * 2\n    HALF = LIMIT // 2\nreturn Cfg.HALF",
    ],
    ids=["global", "shadowed-by-local", "used-after"],
)
def test_class_body_reading_a_global_of_its_own_name_reruns(tmp_path: Path, body: str) -> None:
    """``class Cfg: LIMIT = LIMIT`` in a function depends on the module's LIMIT."""
    indented = "\n".join("    " + line for line in body.splitlines())

    def script(limit: int) -> str:
        return (
            f"from checkpointing import checkpoint\n\nLIMIT = {limit}\n\n"
            f"@checkpoint()\ndef foo():\n    print('Running')\n{indented}\n\nprint(foo())\n"
        )

    run_steps(
        tmp_path,
        Step(script(4), "Running\n4\n"),
        Step(script(4), "4\n"),
        Step(script(6), "Running\n6\n"),
    )


@pytest.mark.parametrize("expression", ["sorted(locals())", "sorted(vars())", "sorted(dir())"])
def test_renamed_local_observed_by_introspection_reruns(tmp_path: Path, expression: str) -> None:
    """Where ``locals()``, ``vars()`` or ``dir()`` lists local names, renaming them re-runs."""
    template = """
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x):
        print("Running")
        {name} = x + 1
        return {expression}

    print(foo(1))
    """.replace("{expression}", expression)
    check_case(
        tmp_path,
        template.replace("{name}", "value"),
        "Running\n['value', 'x']\n",
        template.replace("{name}", "total"),
        "Running\n['total', 'x']\n",
    )


def test_renamed_local_read_by_eval_reruns(tmp_path: Path) -> None:
    """``eval`` reads locals by name: after renaming the local it reads the global instead."""
    template = """
    from checkpointing import checkpoint

    value = 100

    @checkpoint()
    def foo(x):
        print("Running")
        {name} = x + 1
        return eval("value * 2")

    print(foo(1))
    """
    check_case(
        tmp_path,
        template.replace("{name}", "value"),
        "Running\n4\n",
        template.replace("{name}", "total"),
        "Running\n200\n",
    )


DYNAMIC_READS = {
    "globals()[name]": 'globals()["SCALE"]',
    "globals().get": 'globals().get("SCALE", 1)',
    "eval": 'eval("SCALE")',
    "helper reads globals()": "lookup('SCALE')",
}


@pytest.mark.parametrize("read", DYNAMIC_READS.values(), ids=DYNAMIC_READS)
def test_global_read_by_a_computed_name_reruns_when_edited(tmp_path: Path, read: str) -> None:
    """Code that reads globals by name at run time depends on its whole module."""
    template = """
    from checkpointing import checkpoint

    SCALE = {value}
    OTHER = []

    def lookup(name):
        return globals()[name]

    @checkpoint()
    def foo(x):
        print("Running")
        return x * {read}

    print(foo(3))
    """
    script = template.replace("{read}", read)
    run_steps(
        tmp_path,
        Step(script.replace("{value}", "2"), "Running\n6\n"),
        Step(script.replace("{value}", "2"), "6\n"),
        Step(script.replace("{value}", "5"), "Running\n15\n"),
        Step(script.replace("{value}", "5"), "15\n"),
    )


# --- names and docstrings read by the code (item 9) ----------------------------------------

NAME_READERS = {
    "dict keyed by __name__": (
        "@checkpoint()\ndef foo(x):\n    print('Running')\n"
        "    return {f.__name__: f(x) for f in METRICS}\n"
    ),
    "helper reads the names, list read first": (
        "def report(fs, x):\n    return {f.__name__: f(x) for f in fs}\n\n"
        "@checkpoint()\ndef foo(x):\n    print('Running')\n"
        "    fs = METRICS\n    return report(fs, x)\n"
    ),
    "getattr __qualname__": (
        "@checkpoint()\ndef foo(x):\n    print('Running')\n"
        "    return {getattr(f, '__qualname__'): f(x) for f in METRICS}\n"
    ),
}


@pytest.mark.parametrize("reader", NAME_READERS.values(), ids=NAME_READERS)
def test_renamed_function_whose_name_is_read_reruns(tmp_path: Path, reader: str) -> None:
    """Renaming a function whose ``__name__`` the code reads gives a new result."""

    def script(name: str) -> str:
        return (
            "from checkpointing import checkpoint\n\n"
            f"def {name}(x):\n    return x + 1\n\n"
            f"METRICS = [{name}]\n\n{reader}\nprint(foo(1))\n"
        )

    run_steps(
        tmp_path,
        Step(script("plus_one"), "Running\n{'plus_one': 2}\n"),
        Step(script("plus_one"), "{'plus_one': 2}\n"),
        Step(script("increment"), "Running\n{'increment': 2}\n"),
    )


def test_renamed_function_whose_name_is_not_read_hits(tmp_path: Path) -> None:
    """Without a read of ``__name__`` a renamed helper in a list still hits."""

    def script(name: str) -> str:
        return (
            "from checkpointing import checkpoint\n\n"
            f"def {name}(x):\n    return x + 1\n\nMETRICS = [{name}]\n\n"
            "@checkpoint()\ndef foo(x):\n    print('Running')\n"
            "    return [f(x) for f in METRICS]\n\nprint(foo(1))\n"
        )

    check_case(tmp_path, script("plus_one"), "Running\n[2]\n", script("increment"), "[2]\n")


@pytest.mark.parametrize("kind", ["function", "class"])
def test_edited_docstring_that_is_read_reruns(tmp_path: Path, kind: str) -> None:
    """A docstring the code reads (``__doc__``) is part of the result; unread ones are not."""
    definition = "def helper():\n" if kind == "function" else "class helper:\n"

    def script(doc: str, read: bool) -> str:
        body = "helper.__doc__" if read else "1"
        return (
            "from checkpointing import checkpoint\n\n"
            f"{definition}    '''{doc}'''\n\n"
            f"@checkpoint()\ndef foo():\n    print('Running')\n    return {body}\n\n"
            "print(foo())\n"
        )

    run_steps(
        tmp_path,
        Step(script("Old.", True), "Running\nOld.\n"),
        Step(script("New.", True), "Running\nNew.\n"),
        Step(script("Old.", False), "Running\n1\n"),
        Step(script("New.", False), "1\n"),
    )

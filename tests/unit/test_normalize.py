"""Unit tests of the AST normalization: which edits vanish and which remain."""

from __future__ import annotations

import ast
import textwrap

import pytest

from checkpointing._normalize import NormalizedFunction, normalize_function


def norm(source: str) -> NormalizedFunction:
    """Normalize the first function defined in ``source``."""
    node = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    return normalize_function(node)


SAME = [
    pytest.param(
        "def f(x):\n    return x + 1\n",
        "def f(x):\n    # a comment\n\n    return (x +\n            1)  # trailing\n",
        id="comments-and-formatting",
    ),
    pytest.param(
        "def f(x):\n    return x\n",
        "def f(x: int) -> int:\n    return x\n",
        id="annotations",
    ),
    pytest.param(
        "def f(x):\n    y = 1\n    return x + y\n",
        "def f(x):\n    y: int = 1\n    return x + y\n",
        id="annotated-assignment",
    ),
    pytest.param(
        "def f(x):\n    return x\n",
        "def g(x):\n    return x\n",
        id="function-renamed",
    ),
    pytest.param(
        "def f(x, y):\n    return x - y\n",
        "def f(a, b):\n    return a - b\n",
        id="parameters-renamed",
    ),
    pytest.param(
        "def f(x):\n    t = x * 2\n    u = t + 1\n    return u * t\n",
        "def f(x):\n    tmp = x * 2\n    w = tmp + 1\n    return w * tmp\n",
        id="locals-renamed",
    ),
    pytest.param(
        "def f(x):\n    return x + K\n",
        "def f(x):\n    return x + CONSTANT\n",
        id="global-renamed",
    ),
    pytest.param(
        "def f(x=1):\n    return x\n",
        "def f(x=2):\n    return x\n",
        id="default-changed",
    ),
    pytest.param(
        "def f(x):\n    x += 1\n    return x\n",
        "def f(x):\n    x = x + 1\n    return x\n",
        id="augmented-assignment",
    ),
    pytest.param(
        'def f(x):\n    """Old doc."""\n    return x\n',
        'def f(x):\n    """New doc."""\n    return x\n',
        id="docstring",
    ),
    pytest.param(
        "def f(x):\n    y = x + 1\n    return y\n",
        "def f(x):\n    return x + 1\n",
        id="returned-temporary",
    ),
    pytest.param(
        "@deco\ndef f(x):\n    return x\n",
        "def f(x):\n    return x\n",
        id="own-decorators",
    ),
    pytest.param(
        "def f(xs):\n    return [v * 2 for v in xs]\n",
        "def f(items):\n    return [v * 2 for v in items]\n",
        id="parameter-used-in-comprehension",
    ),
]


@pytest.mark.parametrize(("before", "after"), SAME)
def test_behaviour_preserving_edits_normalize_equal(before: str, after: str) -> None:
    """An edit that cannot change behaviour yields the same normalized text."""
    assert norm(before).text == norm(after).text


DIFFERENT = [
    pytest.param("def f(a):\n    return a\n", "def f(a):\n    return a + 1\n", id="logic"),
    pytest.param(
        "def f(x, y):\n    return x - y\n",
        "def f(x, y):\n    return y - x\n",
        id="operands-swapped",
    ),
    pytest.param(
        "def f():\n    g = lambda a, b: a - b\n    return g(b=1, a=2)\n",
        "def f():\n    g = lambda b, a: a - b\n    return g(b=1, a=2)\n",
        id="lambda-parameter-order",
    ),
    pytest.param(
        "def f():\n    def g(a, b):\n        return a - b\n    return g(b=1, a=2)\n",
        "def f():\n    def g(b, a):\n        return a - b\n    return g(b=1, a=2)\n",
        id="inner-parameter-order",
    ),
    pytest.param(
        "def f():\n    def g(a=1):\n        return a\n    return g()\n",
        "def f():\n    def g(a=2):\n        return a\n    return g()\n",
        id="inner-default",
    ),
    pytest.param(
        "def f():\n    @cache(size=1)\n    def g():\n        return 1\n    return g()\n",
        "def f():\n    @cache(size=2)\n    def g():\n        return 1\n    return g()\n",
        id="inner-decorator",
    ),
    pytest.param(
        "def f():\n    def g():\n        return 1\n    return g()\n",
        "def f():\n    def g():\n        return 2\n    return g()\n",
        id="inner-constant",
    ),
    pytest.param(
        "def f(x):\n    y = x + 1\n    print(y)\n    return y\n",
        "def f(x):\n    print(x + 1)\n    return x + 1\n",
        id="temporary-used-twice",
    ),
    pytest.param(
        "def f():\n    @dataclass\n    class P:\n        x: int\n    return P\n",
        "def f():\n    @dataclass\n    class P:\n        pass\n    return P\n",
        id="class-field-declaration",
    ),
    pytest.param(
        "def f(a, b):\n    return a.x + b\n",
        "def f(a, b):\n    return a.y + b\n",
        id="attribute-name",
    ),
    pytest.param(
        "def f():\n    @dataclass\n    class P:\n        x: ClassVar[int] = 1\n    return P\n",
        "def f():\n    @dataclass\n    class P:\n        x: int = 1\n    return P\n",
        id="class-body-annotation",
    ),
    pytest.param(
        "def f(v):\n    @show.register\n    def _(arg: list):\n        pass\n    return 0\n",
        "def f(v):\n    @show.register\n    def _(arg: list[int]):\n        pass\n    return 0\n",
        id="dispatch-annotation",
    ),
    pytest.param(
        "def f(x):\n    total = x\n    return locals()\n",
        "def f(x):\n    result = x\n    return locals()\n",
        id="local-renamed-under-locals",
    ),
    pytest.param(
        "def f(x):\n    y = 1\n    return eval('y + x')\n",
        "def f(x):\n    z = 1\n    return eval('y + x')\n",
        id="local-renamed-under-eval",
    ),
    pytest.param(
        'def f():\n    """Old."""\n    return f.__doc__\n',
        'def f():\n    """New."""\n    return f.__doc__\n',
        id="docstring-read",
    ),
]


@pytest.mark.parametrize(("before", "after"), DIFFERENT)
def test_behaviour_changing_edits_normalize_different(before: str, after: str) -> None:
    """An edit that can change behaviour yields a different normalized text."""
    assert norm(before).text != norm(after).text


def test_parameter_names_are_kept_apart_from_the_renamed_text() -> None:
    """Renamed parameters give the same text but different listed parameter names."""
    before, after = (
        norm("def f(x, scale=1):\n    return x * scale\n"),
        norm("def f(x, factor=1):\n    return x * factor\n"),
    )
    assert before.text == after.text
    assert (before.parameters, after.parameters) == (("x", "scale"), ("x", "factor"))


def test_signature_annotations_of_the_function_itself_are_cosmetic() -> None:
    """The normalized function's own annotations and decorators vanish, even if decorated."""
    assert (
        norm("@deco\ndef f(x: int) -> int:\n    return x\n").text
        == norm("def f(x: str):\n    return x\n").text
    )


def test_class_body_self_reference_reads_the_global() -> None:
    """A class attribute initialised from its own name depends on the global of that name."""
    result = norm("def f():\n    LIMIT = 1\n    class Cfg:\n        LIMIT = LIMIT\n    return 0\n")
    assert result.free_names == (("LIMIT", ()),)


def test_imports_in_the_body_are_recorded_with_their_chains() -> None:
    """Import statements anywhere in the function are dependencies, with attributes read."""
    result = norm(
        """
        def f(x):
            from .helpers import scale
            def inner():
                import helpers
                return helpers.tools.g(x)
            return scale(x) + inner()
        """
    )
    specs = [(binding.spec("pkg"), chain) for binding, chain in result.imports]
    assert specs == [
        ("pkg.helpers:scale", ()),
        ("helpers", ()),
        ("helpers", ("tools", "g")),
    ]
    assert result.free_names == ()


def test_free_names_in_order_of_first_use_with_attribute_chains() -> None:
    """Globals are listed in first-use order, with the attributes read from them."""
    result = norm(
        """
        def f(x):
            y = np.linalg.norm(x) + helper(x)
            return mod.sub.g(y) + helper(y) + len(x)
        """
    )
    assert result.free_names == (
        ("np", ("linalg", "norm")),
        ("helper", ()),
        ("mod", ("sub", "g")),
        ("len", ()),
    )


def test_locals_of_nested_scopes_are_not_free() -> None:
    """Names bound by nested functions, lambdas, comprehensions and imports stay local."""
    result = norm(
        """
        def f(xs):
            import math
            def inner(k):
                return k * SCALE
            total = sum(inner(v) for v in xs)
            g = lambda q: q + OFFSET
            return math.floor(g(total))
        """
    )
    assert [name for name, _ in result.free_names] == ["SCALE", "sum", "OFFSET"]


def test_nonlocal_and_global_declarations_resolve_correctly() -> None:
    """``global`` makes a name free; ``nonlocal`` refers to the enclosing function."""
    result = norm(
        """
        def f():
            global counter
            counter = counter + 1
            total = 0
            def add(v):
                nonlocal total
                total = total + v
            add(1)
            return total
        """
    )
    assert [name for name, _ in result.free_names] == ["counter"]


def test_walrus_in_comprehension_binds_in_function() -> None:
    """A walrus target inside a comprehension is a local of the function, not free."""
    result = norm(
        """
        def f(xs):
            ys = [last := v for v in xs]
            return last, ys
        """
    )
    assert result.free_names == ()


def test_class_scope_not_visible_from_its_methods() -> None:
    """A method reading a name the class body binds reads the global, not the class attr."""
    result = norm(
        """
        def f():
            class C:
                size = 3
                def get(self):
                    return size
            return C().get()
        """
    )
    assert [name for name, _ in result.free_names] == ["size"]

"""Unit tests of the one scope analysis, checked against the compiler's own symbol tables."""

from __future__ import annotations

import ast
import symtable
import sys
import textwrap
from pathlib import Path

import pytest

from checkpointing._imports import code_imports, read_import
from checkpointing._observed import observed_attributes
from checkpointing._scope import ImportBinding, Kind, Scope, analyse_scopes

_COMPREHENSION_NAMES = {
    ast.ListComp: "listcomp",
    ast.SetComp: "setcomp",
    ast.DictComp: "dictcomp",
    ast.GeneratorExp: "genexpr",
}


def _label(scope: Scope) -> tuple[str, int]:
    node = scope.node
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name, node.lineno
    if isinstance(node, ast.Lambda):
        return "lambda", node.lineno
    name = _COMPREHENSION_NAMES[type(node)]
    return name, node.lineno  # type: ignore[attr-defined]


def _category(scope: Scope, name: str) -> str:
    resolution = scope.resolve(name)
    if resolution.owner is scope:
        return "local"
    if resolution.owner is None or resolution.owner.kind == "module":
        return "global"
    return "free"


def _expected(symbol: symtable.Symbol) -> str:
    if symbol.is_declared_global() or (symbol.is_global() and not symbol.is_local()):
        return "global"
    if symbol.is_free():
        return "free"
    if symbol.is_local():
        return "local"
    return "global"


def _inlined_names(scope: Scope) -> set[str]:
    """Names bound only by comprehensions directly in ``scope`` (through nested ones too).

    From Python 3.12 the compiler inlines comprehensions (PEP 709): its symbol table lists
    their variables in the enclosing function or class, though they stay isolated at run
    time, which is what the analysis models.
    """
    names: set[str] = set()
    stack = [child for child in scope.children if child.kind == "comprehension"]
    while stack:
        child = stack.pop()
        names.update(child.bound)
        stack.extend(c for c in child.children if c.kind == "comprehension")
    return names - set(scope.bound)


def _compare(source: str) -> int:
    """Check every name of every nested scope against ``symtable``; return how many."""
    text = textwrap.dedent(source)
    ours = analyse_scopes(ast.parse(text))
    table = symtable.symtable(text, "<test>", "exec")
    by_label: dict[tuple[str, int], Scope] = {}
    for scope in ours.root.walk():
        if scope.kind not in ("module", "type-params"):
            label = _label(scope)
            assert label not in by_label, f"test snippet has two scopes labelled {label}"
            by_label[label] = scope
    checked = 0
    stack = list(table.get_children())
    while stack:
        child = stack.pop()
        stack.extend(child.get_children())
        if child.get_type() not in ("function", "class"):
            continue  # 3.12+ annotation and type-parameter scopes
        scope = by_label[(child.get_name(), child.get_lineno())]
        inlined = _inlined_names(scope) if sys.version_info >= (3, 12) else set()
        for symbol in child.get_symbols():
            name = symbol.get_name()
            if name.startswith(".") or name == "__class__":
                continue  # compiler-made names
            if name in inlined:
                continue  # an inlined comprehension's variable (3.12+): 3.11 checks it
            assert _category(scope, name) == _expected(symbol), (name, child.get_name())
            if symbol.is_parameter():
                assert scope.bound[name] is Kind.PARAMETER, name
            if symbol.is_imported() and symbol.is_local():
                assert scope.bound[name] is Kind.IMPORTED, name
            checked += 1
    return checked


SNIPPETS = [
    pytest.param(
        """
        def f(a, /, b, *args, c=1, **kw):
            d = a + b + c + G
            return d, args, kw, len
        """,
        id="parameters-locals-globals-builtins",
    ),
    pytest.param(
        """
        def outer(x):
            y = 1
            def inner(z):
                return x + y + z + W
            lam = lambda q, r=y: q + x + r
            return inner, lam
        """,
        id="closures-and-lambdas",
    ),
    pytest.param(
        """
        def f(xs):
            ys = [v * k for v in xs if v > LIMIT for k in range(v)]
            s = {v for v in xs}
            d = {k: v for k, v in xs}
            g = (v + n for v in xs)
            n = 3
            return ys, s, d, g
        """,
        id="comprehensions",
    ),
    pytest.param(
        """
        def f(xs):
            found = [last := v for v in xs if (seen := v)]
            return found, last, seen
        """,
        id="walrus-in-comprehension",
    ),
    pytest.param(
        """
        def f():
            global counter
            counter = counter + 1
            total = 0
            def add(v):
                nonlocal total
                total = total + v
                def deeper():
                    return total
                return deeper
            return add
        """,
        id="global-and-nonlocal",
    ),
    pytest.param(
        """
        def f(LIMIT):
            size = 2
            class Cfg:
                LIMIT = LIMIT
                width = size
                scale: int = 3
                def method(self):
                    return width + LIMIT
                rows = [width for _ in range(scale)]
            return Cfg
        """,
        id="class-scopes",
    ),
    pytest.param(
        """
        def f(path):
            import os
            import os.path as osp
            import xml.dom.minidom
            from .helpers import g as helper
            from . import sibling
            from json import *
            return os, osp, xml, helper, sibling
        """.replace("from json import *\n            ", ""),
        id="imports",
    ),
    pytest.param(
        """
        def f(value):
            try:
                value()
            except ValueError as error:
                problem = error
            with open(value) as handle, open(value) as (a, b):
                pass
            for i, (j, k) in value:
                del k
            match value:
                case [first, *rest]:
                    pass
                case {"key": kv, **others}:
                    pass
                case Point(x=px) | Point(y=px) as whole:
                    pass
            return problem, handle, i, j, first, rest, kv, others, px, whole
        """,
        id="except-with-for-del-match",
    ),
    pytest.param(
        """
        def f(items):
            x: int
            y: list[int] = []
            async def runner():
                async for item in items:
                    await item
                async with items as ctx:
                    return ctx
            return runner, y
        """,
        id="annotations-and-async",
    ),
    pytest.param(
        """
        counter = 0
        def f():
            return counter
        class C:
            attr = counter
            def m(self):
                return attr
        result = [v for v in range(counter)]
        """,
        id="module-level",
    ),
]


@pytest.mark.parametrize("source", SNIPPETS)
def test_every_name_resolves_as_the_compiler_resolves_it(source: str) -> None:
    """Each name of each scope is local, free or global exactly as ``symtable`` says."""
    assert _compare(source) > 0


@pytest.mark.skipif(sys.version_info < (3, 12), reason="PEP 695 syntax needs Python 3.12")
def test_type_parameters_are_bound_in_their_own_scope() -> None:
    """PEP 695 type parameters are visible to the function they belong to, not global."""
    source = "def first[T](xs: list[T]) -> T:\n    return xs[0]\n"
    tree = analyse_scopes(ast.parse(source))
    function = tree.scope_of(tree.root.node.body[0])  # type: ignore[attr-defined]
    assert function.resolve("T").owner is not None
    assert _compare(source) > 0


def _function(source: str) -> tuple[ast.FunctionDef, Scope]:
    node = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node, analyse_scopes(node).root


def test_class_body_reading_its_own_name_also_reads_the_global() -> None:
    """``class Cfg: LIMIT = LIMIT`` reads the module's LIMIT, not the enclosing function's."""
    _, root = _function(
        """
        def f():
            LIMIT = 1
            class Cfg:
                LIMIT = LIMIT
                other = LIMIT
            return Cfg
        """
    )
    cls = root.children[0]
    assert cls.kind == "class"
    limit = cls.resolve("LIMIT")
    assert limit.owner is cls
    assert limit.via_global
    assert limit.outside
    assert cls.resolve("other").via_global
    assert root.resolve("LIMIT").owner is root
    assert not root.resolve("LIMIT").outside


def test_comprehension_walrus_binds_in_the_enclosing_function() -> None:
    """A walrus target inside a comprehension belongs to the enclosing function."""
    _, root = _function("def f(xs):\n    return [y := v for v in xs], y\n")
    comprehension = root.children[0]
    assert comprehension.walrus_home() is root
    assert comprehension.resolve("y").owner is root
    assert comprehension.resolve("v").owner is comprehension


def test_import_statements_record_what_they_bind() -> None:
    """Each import form is recorded with its module, level, attribute and bound name."""
    _, root = _function(
        """
        def f():
            import numpy as np
            import a.b.c
            from ..pkg.mod import thing as alias
            from . import sibling
            return np, a, alias, sibling
        """
    )
    assert root.imports == {
        "np": [ImportBinding("numpy", 0, None)],
        "a": [ImportBinding("a.b.c", 0, None, binds_top=True)],
        "alias": [ImportBinding("pkg.mod", 2, "thing")],
        "sibling": [ImportBinding("", 1, "sibling")],
    }
    assert all(root.bound[name] is Kind.IMPORTED for name in root.imports)


def test_relative_imports_resolve_against_the_package() -> None:
    """Relative imports resolve like the import system; outside a package they cannot."""
    assert ImportBinding("helpers", 1, "f").spec("proj.sub") == "proj.sub.helpers:f"
    assert ImportBinding("", 1, "helpers").spec("proj") == "proj:helpers"
    assert ImportBinding("mod", 2, None).spec("proj.sub") == "proj.mod"
    assert ImportBinding("helpers", 1, "f").spec(None) is None
    assert ImportBinding("x", 3, None).spec("proj") is None


def test_a_dotted_import_is_read_through_the_submodule_it_names() -> None:
    """After ``import a.b`` a use ``a.b.f`` reads ``f`` from ``a.b``; ``a.z`` from ``a``."""
    binding = ImportBinding("a.b", 0, None, binds_top=True)
    assert binding.reached(("b", "f")) == (ImportBinding("a.b", 0, None), ("f",))
    assert binding.reached(("z",)) == (ImportBinding("a", 0, None), ("z",))


def test_imports_are_read_from_bytecode_too() -> None:
    """Functions without source list the same import bindings, nested code included."""
    namespace: dict[str, object] = {}
    exec(  # no source file: only the code object is there
        "def f():\n    import a.b as c\n    from .x import y\n"
        "    def g():\n        from k import j\n    return c, y, g\n"
        "def h():\n    import helpers\n    return helpers.tools.run()\n",
        namespace,
    )
    code = namespace["f"].__code__  # type: ignore[attr-defined]
    assert code_imports(code) == (
        (ImportBinding("a.b", 0, None), ()),
        (ImportBinding("x", 1, "y"), ()),
        (ImportBinding("k", 0, "j"), ()),
    )
    helper_code = namespace["h"].__code__  # type: ignore[attr-defined]
    assert code_imports(helper_code) == (
        (ImportBinding("helpers", 0, None), ()),
        (ImportBinding("helpers", 0, None), ("tools", "run")),
    )


def test_introspection_is_detected_per_scope() -> None:
    """Scopes calling locals(), vars(), eval, exec or dir() are marked; others are not."""
    for call in ("locals()", "vars()", "eval('x')", "exec('y = x')", "dir()"):
        tree = analyse_scopes(ast.parse(f"def f(x):\n    return {call}\n").body[0])
        assert tree.introspects, call
    assert not analyse_scopes(ast.parse("def f(x):\n    return x\n").body[0]).introspects


def test_observed_attributes_are_found() -> None:
    """Reads of __name__, __qualname__ and __doc__ are found, by attribute or getattr."""
    found = observed_attributes(
        ast.parse("{f.__name__: 1 for f in fs}; getattr(g, '__qualname__'); inspect.getdoc(h)")
    )
    assert found == {"__name__", "__qualname__", "__doc__"}
    assert observed_attributes(ast.parse("f.name + g.doc")) == frozenset()


def test_read_import_reads_modules_and_attributes(tmp_path: Path) -> None:
    """Loaded modules come from sys.modules; user modules give attributes; failures are marked."""
    (tmp_path / "scope_probe_mod.py").write_text("VALUE = 41\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert read_import("scope_probe_mod:VALUE") == 41  # imported on first use
        assert read_import("scope_probe_mod") is sys.modules["scope_probe_mod"]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("scope_probe_mod", None)
    assert read_import("json:dumps") is sys.modules["json"]  # a library: the module itself
    missing = read_import("no_such_module_for_scope_tests")
    assert isinstance(missing, str)
    assert "no_such_module_for_scope_tests" in missing

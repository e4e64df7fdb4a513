"""Watch the definition statements of a cell while it runs, so a hit can run them again.

Functions and classes cannot be pickled by value, so a hit re-creates them by running
their statements again. To come back exactly as a run leaves them, each statement must
see the values it saw then: ``n = 3; def g(m=n): ...; n = 0`` gives ``g`` the default 3,
``@f.register`` adds to the ``f`` of that moment, ``class Child(Base)`` needs that
``Base``. So while a miss runs, a call is added before each top-level definition
statement (``def``, ``class``, and an assignment whose value turns out to be a function
or class, such as ``f = functools.lru_cache(f)``); it notes the values of the names the
statement reads, and a call after it notes what the statement bound. Every such
statement runs again on a hit, in cell order, with the names it read set to the noted
values: later statements, registrations named ``_`` and decorators that fill a registry
all happen again as in the run.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

__all__ = ["DefinitionTrace", "Step", "candidate", "reads_of", "traced"]

_HOOK = "__checkpointing_trace__"


def candidate(node: ast.stmt) -> bool:
    """Tell whether a top-level statement may define a function or class."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return True
    return (
        isinstance(node, ast.Assign | ast.AnnAssign)
        and node.value is not None
        and all(isinstance(t, ast.Name) for t in _targets(node))
        and not isinstance(node.value, ast.Constant)
    )


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return list(node.targets) if isinstance(node, ast.Assign) else [node.target]


def bound_names(node: ast.stmt) -> list[str]:
    """Return the names a candidate statement binds."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    assert isinstance(node, ast.Assign | ast.AnnAssign)
    return [t.id for t in _targets(node) if isinstance(t, ast.Name)]


def reads_of(node: ast.stmt) -> set[str]:
    """Return the names a statement reads while it runs (not inside function bodies)."""
    found: set[str] = set()
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Load):
            found.add(current.id)
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
            # Decorators, defaults and annotations run now; the body runs when called.
            stack.extend(current.decorator_list)
            stack.extend(current.args.defaults)
            stack.extend(d for d in current.args.kw_defaults if d is not None)
            stack.extend(a.annotation for a in _parameters(current.args) if a.annotation)
            if current.returns is not None:
                stack.append(current.returns)
            continue
        if isinstance(current, ast.Lambda):
            stack.extend(current.args.defaults)
            stack.extend(d for d in current.args.kw_defaults if d is not None)
            continue
        stack.extend(ast.iter_child_nodes(current))
    return found


def _parameters(args: ast.arguments) -> list[ast.arg]:
    extra = [a for a in (args.vararg, args.kwarg) if a is not None]
    return [*args.posonlyargs, *args.args, *args.kwonlyargs, *extra]


@dataclass
class Step:
    """One definition statement as it ran: what it read, and what it bound."""

    index: int
    reads: dict[str, Any]
    bound: dict[str, Any] = field(default_factory=dict)
    # The attributes of each class or function it bound, as the statement left them.
    attributes: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class DefinitionTrace:
    """The definition statements of one run, in the order they ran."""

    tree: ast.Module
    steps: list[Step] = field(default_factory=list)
    _reads: dict[int, set[str]] = field(default_factory=dict)
    _pending: dict[int, Step] = field(default_factory=dict)
    _used: bool = False

    @property
    def used(self) -> bool:
        """Tell whether the run was traced (the cell's code reached the transformer)."""
        return self._used

    def __call__(self, ns: dict[str, Any], index: int, after: bool) -> None:
        """Note the reads of statement ``index`` before it runs, its bindings after."""
        node = self.tree.body[index]
        if not after:
            reads = self._reads.setdefault(index, reads_of(node))
            self._pending[index] = Step(index, {n: ns[n] for n in reads if n in ns})
            return
        step = self._pending.pop(index, None)
        if step is None:
            return
        step.bound = {name: ns[name] for name in bound_names(node) if name in ns}
        step.attributes = {
            id(value): dict(vars(value))
            for value in step.bound.values()
            if isinstance(value, type) or inspect.isfunction(value)
        }
        if isinstance(node, ast.Assign | ast.AnnAssign) and not any(
            _made_by_code(value) for value in step.bound.values()
        ):
            return  # an ordinary assignment: its value is stored as data
        self.steps.append(step)

    def transformer(self, ns: dict[str, Any]) -> ast.NodeTransformer:
        """Return the AST transformer that adds the trace calls to the cell (once)."""
        return _Instrument(self, ns)


def _made_by_code(value: object) -> bool:
    """Tell whether ``value`` is a function or class (pickle could only name it)."""
    if isinstance(value, ModuleType):
        return False
    return isinstance(value, type) or inspect.isroutine(value) or hasattr(value, "__wrapped__")


class _Instrument(ast.NodeTransformer):
    """Adds ``hook(index, False)`` before and ``hook(index, True)`` after each candidate."""

    def __init__(self, trace: DefinitionTrace, ns: dict[str, Any]) -> None:
        self.trace = trace
        self.ns = ns

    def visit_Module(self, node: ast.Module) -> ast.Module:
        trace = self.trace
        # Only the cell itself: magics inside it (%%time) transform their own code too.
        if trace._used or ast.dump(node) != ast.dump(trace.tree):
            return node
        trace._used = True
        body: list[ast.stmt] = []
        for index, statement in enumerate(node.body):
            if candidate(statement):
                body.append(self._call(statement, index, False))
                body.append(statement)
                body.append(self._call(statement, index, True))
            else:
                body.append(statement)
        if body and candidate(node.body[-1]):
            # Keep the cell's last statement last, so IPython shows what it would show.
            body.append(ast.copy_location(ast.Pass(), node.body[-1]))
        node.body = body
        return node

    @staticmethod
    def _call(statement: ast.stmt, index: int, after: bool) -> ast.stmt:
        call = ast.Expr(
            ast.Call(
                ast.Name(_HOOK, ast.Load()),
                [ast.Constant(index), ast.Constant(after)],
                [],
            )
        )
        return ast.fix_missing_locations(ast.copy_location(call, statement))


@contextlib.contextmanager
def traced(shell: Any, tree: ast.Module) -> Iterator[DefinitionTrace]:
    """Trace the definition statements of the cell ``tree`` while the block runs it."""
    trace = DefinitionTrace(tree)
    ns = shell.user_ns
    if not any(candidate(statement) for statement in tree.body):
        yield trace
        return
    transformer = trace.transformer(ns)
    had = _HOOK in ns
    previous = ns.get(_HOOK)
    ns[_HOOK] = lambda index, after: trace(ns, index, after)
    shell.ast_transformers.insert(0, transformer)  # sees the cell before others change it
    try:
        yield trace
    finally:
        with contextlib.suppress(ValueError):
            shell.ast_transformers.remove(transformer)
        if had:
            ns[_HOOK] = previous
        else:
            ns.pop(_HOOK, None)

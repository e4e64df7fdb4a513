"""Proof that a source text is what is running: find a definition, recompile, compare.

Source is trusted only when compiling it reproduces the running code object; a file
edited after import, or text recovered from a notebook's history, is checked this way.
"""

from __future__ import annotations

import ast
import linecache
import textwrap
from types import CodeType

__all__ = ["DefinitionNode", "find_definition", "source_matches_code"]

DefinitionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


def find_definition(source: str, code: CodeType) -> DefinitionNode | None:
    """Find the definition of ``code`` in ``source``, or ``None`` if it is not unique.

    Used by the IPython extension too, to cut a definition out of a history cell.
    """
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    is_lambda = code.co_name == "<lambda>"
    nargs = code.co_argcount + code.co_kwonlyargcount
    nargs += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)  # *args, **kwargs
    params = code.co_varnames[:nargs]
    found: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda] = []
    for node in ast.walk(tree):
        if is_lambda and isinstance(node, ast.Lambda):
            found.append(node)
        elif (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and not is_lambda
            and node.name == code.co_name
        ):
            found.append(node)
            break  # the outermost definition of that name is the one inspect found
    matching = [n for n in found if _param_names(n) == params]
    if is_lambda and len({ast.dump(n) for n in matching}) != 1:
        return None  # two different lambdas on one line: ambiguous, use the bytecode
    return matching[0] if matching else None


_FUTURE_FLAGS = 0
for _feature in __import__("__future__").all_feature_names:
    _FUTURE_FLAGS |= getattr(__import__("__future__"), _feature).compiler_flag


def source_matches_code(
    node: DefinitionNode, code: CodeType, module_source: str | None = None
) -> bool:
    """Tell whether compiling ``node`` reproduces ``code``: proof the source is current.

    The definition is compiled inside a wrapper that recreates its closure cells (and a
    class for ``super()``), so name resolution matches the original; then bytecode,
    names and constants are compared. Line numbers and file names are not.

    The compiler emits different bytecode for ``name.method()`` when ``name`` is bound by
    an import in the same compilation unit, and that unit is not always the file:
    IPython compiles each top-level statement of a cell on its own, while ``%%time`` and
    ``exec`` compile a whole text. So the imports of ``code``'s file, then those of
    ``module_source`` (the text the definition was cut from), then none are tried; any
    match proves the source, since imports change nothing else.
    """
    statement: ast.stmt = node if not isinstance(node, ast.Lambda) else ast.Expr(node)
    body: list[ast.stmt] = [statement]
    free = [name for name in code.co_freevars if name != "__class__"]
    if "__class__" in code.co_freevars:
        body = [ast.ClassDef(name="_", bases=[], keywords=[], body=body, decorator_list=[])]
    if free:
        cells: list[ast.expr] = [ast.Name(id=name, ctx=ast.Store()) for name in free]
        body = [
            ast.FunctionDef(
                name="_",
                args=ast.arguments(
                    posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]
                ),
                body=[ast.Assign(targets=cells, value=ast.Constant(None)), *body],
                decorator_list=[],
            )
        ]
    import_sets = [_module_imports(code.co_filename)]
    if module_source is not None:
        import_sets.append(_imports_in(module_source))
    import_sets.append(())
    for names in dict.fromkeys(import_sets):
        imports: list[ast.stmt] = [ast.Import(names=[ast.alias(name=name)]) for name in names]
        module = ast.fix_missing_locations(ast.Module(body=[*imports, *body], type_ignores=[]))
        try:
            compiled = compile(
                module,
                code.co_filename,
                "exec",
                flags=code.co_flags & _FUTURE_FLAGS,
                dont_inherit=True,
            )
        except (SyntaxError, ValueError, TypeError):
            return False
        stack = [compiled]
        while stack:
            candidate = stack.pop()
            if candidate.co_name == code.co_name and _same_code(candidate, code):
                return True
            stack.extend(c for c in candidate.co_consts if isinstance(c, CodeType))
    return False


_imports_by_file: dict[str, tuple[list[str], tuple[str, ...]]] = {}


def _module_imports(filename: str) -> tuple[str, ...]:
    """Return the names bound by imports at the top level of ``filename``'s module."""
    lines = linecache.getlines(filename)
    cached = _imports_by_file.get(filename)
    if cached is not None and cached[0] is lines:
        return cached[1]
    names = _imports_in("".join(lines))
    _imports_by_file[filename] = (lines, names)
    return names


def _imports_in(source: str) -> tuple[str, ...]:
    """Return the names bound by imports at the top level of module text ``source``."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return ()
    found: dict[str, None] = {}
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bound = alias.asname or alias.name.partition(".")[0]
                if bound != "*" and bound.isidentifier():
                    found.setdefault(bound)
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))  # module-level if/try blocks
    return tuple(found)


def _same_code(a: CodeType, b: CodeType) -> bool:
    """Compare what two code objects do, ignoring where they were defined."""
    if (
        a.co_code != b.co_code
        or a.co_names != b.co_names
        or a.co_varnames != b.co_varnames
        or a.co_freevars != b.co_freevars
        or a.co_cellvars != b.co_cellvars
        or a.co_argcount != b.co_argcount
        or a.co_kwonlyargcount != b.co_kwonlyargcount
        or len(a.co_consts) != len(b.co_consts)
    ):
        return False
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if isinstance(x, CodeType) and isinstance(y, CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or repr(x) != repr(y):
            return False
    return True


def _param_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> tuple[str, ...]:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    names += [a.arg for a in args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return tuple(names)

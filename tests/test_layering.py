"""The extension uses only the core's public modules, and loads no widgets until shown."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXTENSION = REPO_ROOT / "ipython_ext"


def _is_private_core(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "checkpointing" and any(p.startswith("_") for p in parts[1:])


def _private_core_imports(root: Path) -> list[str]:
    """Return ``file:line module`` for each import of a private core module under ``root``.

    Nested imports count, and so does ``from checkpointing import _source``.
    """
    bad = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            private = [name for name in names if _is_private_core(name)]
            if private:
                line = getattr(node, "lineno", 0)
                bad.append(f"{path.relative_to(root)}:{line} {private[0]}")
    return bad


def test_extension_imports_no_private_core_module() -> None:
    """No module of ``ipython_ext`` imports a ``checkpointing._*`` module."""
    assert _private_core_imports(EXTENSION) == []


def test_the_check_sees_private_imports(tmp_path: Path) -> None:
    """The layering check reports private imports, nested and ``from x import _y`` ones."""
    (tmp_path / "m.py").write_text(
        "import checkpointing.hooks\n"
        "from checkpointing import _source\n"
        "def f():\n    from checkpointing._hashing import hash_values\n"
    )
    found = _private_core_imports(tmp_path)
    assert [entry.split(" ")[1] for entry in found] == [
        "checkpointing._source",
        "checkpointing._hashing",
    ]


def test_hooks_names_resolve() -> None:
    """Every name ``checkpointing.hooks`` exports exists, and ``__all__`` is sorted."""
    import checkpointing.hooks as hooks

    assert hooks.__all__ == sorted(hooks.__all__)
    for name in hooks.__all__:
        assert hasattr(hooks, name), name


def _run(code: str, cwd: Path) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )
    return run.stdout.strip()


@pytest.mark.slow
def test_load_ext_imports_no_widgets_until_a_panel_is_shown(tmp_path: Path) -> None:
    """``%load_ext checkpointing`` leaves ipywidgets unimported; ``%checkpoint_panel`` loads it."""
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        f"shell = InteractiveShell.instance(ipython_dir={str(tmp_path / 'ipython')!r})\n"
        "shell.run_cell('%load_ext checkpointing').raise_error()\n"
        "shell.run_cell('%%checkpoint\\nx = 1\\n').raise_error()\n"
        "print('ipywidgets' in sys.modules)\n"
        "shell.run_cell('panel = %checkpoint_panel').raise_error()\n"
        "print('ipywidgets' in sys.modules)\n"
    )
    assert _run(code, tmp_path).split() == ["False", "True"]

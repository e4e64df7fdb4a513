"""Regenerate the saved outputs of the example notebooks: ``python notebooks/refresh.py``.

Each notebook runs twice in a fresh working directory, each time in a new kernel. The
outputs of the second run are saved, because they are the proof a reader should see:
results loaded from the cache after a restart, and ``%%checkpoint`` cells replayed.
The tests run the notebooks the same way and compare with what is saved here.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ("quickstart.ipynb", "tour.ipynb")


def execute(notebook: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Run ``notebook`` in a new kernel in ``cwd``; return it with its outputs."""
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def second_run(path: Path) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` twice in one fresh directory; return the second run."""
    source = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        execute(nbformat.from_dict(source), Path(folder))
        return execute(nbformat.from_dict(source), Path(folder))


def main(names: list[str]) -> None:
    """Refresh the named notebooks (all of them by default)."""
    for name in names or NOTEBOOKS:
        path = HERE / name
        result = second_run(path)
        result.metadata.pop("widgets", None)  # widget state is dead outside a live kernel
        nbformat.write(result, path)
        print(f"refreshed {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""``%%checkpoint``: a cell as a cached call.

One module per part: ``analysis`` reads the cell, ``plan`` computes its key, ``recording``
records and replays what it shows, ``storing`` stores what it binds (the record and its
errors in ``stored``), ``restoring`` puts it back, and ``runner`` puts them together.
"""

from ipython_ext.cell.runner import (
    CELL_FORMAT_VERSION,
    CellAnalysis,
    CellCache,
    CellFailed,
    CellOptions,
    CellUsageError,
    Definition,
    StoredCell,
    analyse_cell,
    cell_label,
    normalized_cell_code,
)

__all__ = [
    "CELL_FORMAT_VERSION",
    "CellAnalysis",
    "CellCache",
    "CellFailed",
    "CellOptions",
    "CellUsageError",
    "Definition",
    "StoredCell",
    "analyse_cell",
    "cell_label",
    "normalized_cell_code",
]

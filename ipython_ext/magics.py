"""IPython magics for checkpointing: ``%%checkpoint``, ``%checkpoint``, ``%checkpoint_panel``."""

from __future__ import annotations

from IPython.core.magic import Magics, magics_class

__all__ = ["CheckpointMagics"]


@magics_class
class CheckpointMagics(Magics):
    """Thin adapter from IPython magics to the cell cache in :mod:`ipython_ext.cell`."""

"""IPython extension of checkpointing: magics, cell caching and the notebook panel.

The extension (``%load_ext``, the ``%%checkpoint`` cell magic and the ipywidgets panel)
will live in this package. It is not built yet: importing it provides nothing.
"""

__all__: list[str] = []

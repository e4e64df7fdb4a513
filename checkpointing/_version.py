"""The package version, in a module of its own so storage code can read it without cycles."""

__all__ = ["__version__"]

__version__ = "0.1.0"

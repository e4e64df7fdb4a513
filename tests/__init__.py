"""Tests of checkpointing; a package so helpers import as ``tests.scriptcase``."""

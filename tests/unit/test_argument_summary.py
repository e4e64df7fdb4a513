"""Argument summaries in cache listings read well: no memory addresses, no notebook module."""

from __future__ import annotations

import re

from checkpointing.hooks import summarise_arguments


class Estimator:
    """A user object with the default repr."""


def test_objects_are_summarised_without_memory_addresses() -> None:
    """A default ``repr`` loses its ``at 0x...`` part; two runs describe a call alike."""
    text = summarise_arguments({"model": Estimator(), "other": Estimator()})
    assert not re.search(r"0x[0-9a-f]+", text)
    assert "Estimator object>" in text
    assert text == summarise_arguments({"model": Estimator(), "other": Estimator()})


def test_long_strings_keep_forty_characters() -> None:
    """A string argument is cut at about forty characters, not ten."""
    text = summarise_arguments({"path": "data/experiments/2026/run-0042/results.csv"})
    assert text.startswith("path='data/experiments/2026/run-0042/")

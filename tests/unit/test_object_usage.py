"""Usage objects on an fsspec file system merge into the right counts, whoever wrote them.

The objects are written by hand on fsspec's in-memory file system, in the layout the
object-storage store writes (``<root>/.usage/*.json``), to check the merging rules: hits
add up, the latest use wins, a compacted object hides the objects it replaces (even
before they are deleted), and a deletion drops the uses before it.
"""

from __future__ import annotations

import json
import time
import uuid

from checkpointing.store.fsspec import FsspecStore


def _store_with(*records: dict[str, object]) -> FsspecStore:
    """Return a store with entries ``a`` and ``b`` and the usage objects ``records``."""
    store = FsspecStore(f"memory://u{uuid.uuid4().hex[:12]}")
    store.put("a", [b"x"])
    store.put("b", [b"y"])
    for number, record in enumerate(records):
        name = str(record.pop("name", f"{number:03d}.json"))
        store.fs.pipe_file(f"{store.root}/.usage/{name}", json.dumps(record).encode())
    return store


def test_hits_add_up_and_the_latest_use_wins() -> None:
    """Batches of several writers add their hits; the last use is the latest of them."""
    now = time.time()
    store = _store_with({"hits": {"a": [2, now - 5]}}, {"hits": {"a": [3, now - 9], "b": [1, now]}})
    assert store.usages(["a", "b", "c"]) == {"a": (5, now - 5), "b": (1, now), "c": (0, None)}


def test_a_compacted_object_hides_what_it_replaces() -> None:
    """Objects a compaction merged are not counted twice while they still exist."""
    now = time.time()
    store = _store_with(
        {"name": "1.json", "hits": {"a": [2, now - 5]}},
        {"name": "2.json", "hits": {"a": [3, now - 1]}},
        {"name": "3.json", "hits": {"a": [5, now - 1]}, "replaces": ["1.json", "2.json"]},
        {"name": "4.json", "hits": {"a": [1, now]}},
    )
    assert store.usage("a") == (6, now)


def test_a_deletion_drops_earlier_uses_only() -> None:
    """Uses recorded before an entry was deleted lapse; uses after it count."""
    now = time.time()
    store = _store_with(
        {"hits": {"a": [4, now - 10]}},
        {"forgotten": {"a": now - 5}},
        {"hits": {"a": [1, now - 2]}},
    )
    assert store.usage("a") == (1, now - 2)


def test_unreadable_objects_are_skipped() -> None:
    """A usage object that is not JSON (a foreign or partial file) does not break a listing."""
    now = time.time()
    store = _store_with({"hits": {"a": [2, now]}})
    store.fs.pipe_file(f"{store.root}/.usage/junk.json", b"{not json")
    assert store.usage("a") == (2, now)


def test_compaction_keeps_counts_and_drops_deleted_entries() -> None:
    """Compaction leaves one object with the same counts, without entries that are gone."""
    now = time.time()
    store = _store_with({"hits": {"a": [2, now], "gone": [7, now]}}, {"hits": {"a": [1, now]}})
    assert store._usage.compact()
    assert len(store._usage._names()) == 1
    assert store.usages(["a", "gone"]) == {"a": (3, now), "gone": (0, None)}


def test_compaction_forgets_old_deletions() -> None:
    """The merged object keeps a recent deletion (late batches) but not an hour-old one."""
    now = time.time()
    store = _store_with({"forgotten": {"a": now - 7200, "b": now - 5}})
    assert store._usage.compact()
    (name,) = store._usage._names()
    merged = json.loads(store.fs.cat_file(f"{store.root}/.usage/{name}"))
    assert merged["forgotten"] == {"b": now - 5}

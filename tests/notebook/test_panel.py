"""The cache panel's logic, without a browser: ipywidgets works without a front end.

Widgets are read through their attributes and clicked with ``Button.click()``. Each
panel gets its own :class:`SessionRecord` and refresh intervals of zero, so it counts
only the test's calls and redraws on every event.
"""

from __future__ import annotations

import gc
import html
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checkpointing import (
    CacheBase,
    CheckpointNotExist,
    MemoryCache,
    PickleFileCache,
    checkpoint,
    events,
)
from checkpointing.events import CheckpointEvent
from ipython_ext.panel import (
    CheckpointPanel,
    FunctionStats,
    SessionRecord,
    count_text,
    display_name,
    format_duration,
    format_size,
    format_timestamp,
    list_caches,
    saved_text,
    show_panel,
)
from ipython_ext.panel import widget as panel_module
from ipython_ext.panel.html import full_location


@pytest.fixture
def cache(tmp_path: Path) -> PickleFileCache:
    """Return an empty file cache in its own directory."""
    return PickleFileCache(tmp_path / "cache")


@pytest.fixture
def panel(cache: PickleFileCache) -> Iterator[CheckpointPanel]:
    """Return a panel over ``cache`` that redraws on every event; close it afterwards."""
    shown = CheckpointPanel([cache], record=SessionRecord(), live_interval=0, refresh_interval=0)
    yield shown
    shown.close()


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[SessionRecord]:
    """Give the module a fresh session record, not recording yet; stop recording after."""
    record = SessionRecord()
    monkeypatch.setattr(panel_module, "_SESSION", record)
    monkeypatch.setattr(panel_module, "_shown", None)
    yield record
    record.stop()


def full_name(func: Any) -> str:
    """Return the name the decorator reports for ``func``."""
    return f"{func.__module__}.{func.__qualname__}"


def with_class(root: Any, name: str) -> list[Any]:
    """Find the widgets under ``root`` that carry the DOM class ``name``, in order."""
    found = [root] if name in getattr(root, "_dom_classes", ()) else []
    for child in getattr(root, "children", ()):
        found.extend(with_class(child, name))
    return found


def session_row(panel: CheckpointPanel, function: str) -> dict[str, str]:
    """Return the texts of the session row of ``function``: name, bar, counts, saved."""
    for row in with_class(panel.widget, "checkpointing-function"):
        name, bar, counts, saved = row.children
        if f'title="{html.escape(function)}"' in name.value:
            return {"name": name.value, "bar": bar.value, "counts": counts.value,
                    "saved": saved.value}  # fmt: skip
    raise AssertionError(f"no session row for {function}")


def entry_rows(panel: CheckpointPanel) -> list[Any]:
    """Return the entry rows drawn, each an HBox of the row text and its Delete button."""
    return with_class(panel.widget, "checkpointing-entry")


def entry_row(panel: CheckpointPanel, arguments: str) -> Any:
    """Return the one entry row whose argument summary is ``arguments``."""
    title = f'title="{html.escape(arguments)}"'
    rows = [r for r in entry_rows(panel) if title in r.children[0].value]
    assert len(rows) == 1, [r.children[0].value for r in entry_rows(panel)]
    return rows[0]


def group_button(panel: CheckpointPanel, function: str) -> Any:
    """Return the "Clear function" button of ``function``'s group."""
    for group in with_class(panel.widget, "checkpointing-group"):
        label, _, button = group.children  # name, "Clear outdated", "Clear function"
        if f'title="{html.escape(function)}"' in label.value:
            return button
    raise AssertionError(f"no group for {function}")


def files(cache: PickleFileCache) -> list[str]:
    """List the entry files on disk."""
    return sorted(p.name for p in cache.directory.glob("*.pickle"))


def event(kind: Any, function: str = "f", run_time: float | None = 1.0) -> CheckpointEvent:
    """Build an event as the decorator publishes it."""
    return CheckpointEvent(kind, function, "id", 0.25, run_time, None)


# --------------------------------------------------------------------------- counting


def test_counters_follow_real_calls(panel: CheckpointPanel, cache: PickleFileCache) -> None:
    """Each call of a checkpointed function updates its row and the summary at once."""

    @checkpoint(cache=cache)
    def double(x: int) -> int:
        return 2 * x

    double(1)
    assert session_row(panel, full_name(double))["counts"] == "0 hits / 1 miss"
    double(1)
    double(2)
    double(1)
    row = session_row(panel, full_name(double))
    assert row["counts"] == "2 hits / 2 misses"
    assert "double" in row["name"]
    assert "__main__" not in row["name"]
    assert "width:50.0%" in row["bar"]  # half the bar is hits
    assert panel.summary.value.count("2 hits / 2 misses") == 1


def test_functions_and_cells_get_separate_rows(panel: CheckpointPanel) -> None:
    """Functions and ``cell:<label>`` cells are counted apart, reruns and uncached too."""
    for kind in ("miss", "hit", "hit", "rerun"):
        events.publish(event(kind, "cell:load data"))
    events.publish(event("uncached", "mod.f", None))
    assert session_row(panel, "cell:load data")["counts"] == "2 hits / 1 miss / 1 rerun"
    assert session_row(panel, "mod.f")["counts"] == "0 hits / 0 misses / 1 uncached"
    assert [s.function for s in panel.record.stats.functions()] == ["cell:load data", "mod.f"]


def test_time_saved_sums_run_time_minus_elapsed_over_hits(
    panel: CheckpointPanel, cache: PickleFileCache
) -> None:
    """A hit saves what the first run took minus what loading took, and the row says so."""

    @checkpoint(cache=cache)
    def slow(x: int) -> int:
        time.sleep(0.2)
        return x

    slow(1)
    slow(1)
    slow(1)
    stats = panel.record.stats.functions()[0]
    run_time = cache.entries()[0].run_time
    assert run_time >= 0.2
    assert run_time < stats.saved < 2 * run_time  # two hits, each minus its load time
    assert session_row(panel, full_name(slow))["saved"] == f"saved {format_duration(stats.saved)}"


def test_saved_text_reports_unknown_and_lost_time() -> None:
    """Hits without a recorded run time are unknown; hits slower than computing lose time."""
    stats = FunctionStats("f")
    assert saved_text(stats) == "saved: —"
    stats.add(event("hit", run_time=None))
    assert saved_text(stats) == "saved: unknown"
    stats.add(event("hit", run_time=0.0))  # elapsed 0.25 s > run time 0
    assert stats.unknown == 1
    assert saved_text(stats) == "lost 250 ms"


# --------------------------------------------------------------------------- listing


def test_entries_are_listed_with_their_metadata(
    panel: CheckpointPanel, cache: PickleFileCache
) -> None:
    """Function, argument summary, size, created and last use come from the cache and hits."""

    @checkpoint(cache=cache)
    def square(x: int, label: str = "a") -> list[int]:
        return [x * x] * 100

    before = time.time()
    square(3)
    square(4, label="b")
    after_write = time.time()
    time.sleep(0.05)
    square(3)  # a hit: x=3 was used after it was created
    (listing,) = panel.listings
    rows = {row.info.arguments: row for row in listing.rows}
    assert set(rows) == {"x=3, label='a'", "x=4, label='b'"}
    used, unused = rows["x=3, label='a'"], rows["x=4, label='b'"]
    assert used.info.function == full_name(square)
    assert before <= used.info.created <= after_write
    assert used.info.size == os.path.getsize(cache.directory / f"{used.info.context_id}.pickle")
    assert used.last_used > after_write
    assert unused.last_used == unused.info.created

    text = entry_row(panel, "x=3, label='a'").children[0].value
    assert format_size(used.info.size) in text
    assert format_timestamp(used.info.created) in text
    assert format_timestamp(used.last_used) in text
    assert listing.groups()[0][0] == full_name(square)
    assert [r.info.arguments for r in listing.groups()[0][1]] == [
        "x=3, label='a'",
        "x=4, label='b'",
    ]


def test_caches_seen_in_events_are_listed_once_per_directory(
    tmp_path: Path, panel: CheckpointPanel
) -> None:
    """Two decorators over one directory share one listing; a memory cache is listed too."""
    directory = tmp_path / "other"
    memory = MemoryCache()

    @checkpoint(directory)
    def one() -> int:
        return 1

    @checkpoint(directory)
    def two() -> int:
        return 2

    @checkpoint(cache=memory)
    def three() -> int:
        return 3

    one(), two(), three()
    labels = [listing.label for listing in panel.listings]
    assert len(labels) == 3  # the panel's own cache, "other", the memory cache
    other = panel.listings[1]
    assert str(directory) in full_location(other.cache)
    assert {r.info.function for r in other.rows} == {full_name(one), full_name(two)}
    assert [r.info.function for r in panel.listings[2].rows] == [full_name(three)]
    assert labels[2] == memory.location == f"memory of process {os.getpid()}"


class _ShelfCache(CacheBase):
    """A third-party cache that describes itself."""

    def __init__(self) -> None:
        self.shelf: dict[object, object] = {}

    def save(self, context_id: object, result: object) -> None:
        self.shelf[context_id] = result

    def retrieve(self, context_id: object) -> object:
        try:
            return self.shelf[context_id]
        except KeyError:
            raise CheckpointNotExist(context_id) from None

    @property
    def location(self) -> str:
        return "shelf://team/results"

    @property
    def identity(self) -> str:
        return "shelf://team/results"

    @property
    def label(self) -> str:
        return "shelf"


def test_a_third_party_cache_is_named_by_its_own_description(panel: CheckpointPanel) -> None:
    """A cache the panel does not know shows its own location, not its class name."""
    shelf = _ShelfCache()

    @checkpoint(cache=shelf)
    def four() -> int:
        return 4

    four()
    panel.refresh()
    labels = [listing.label for listing in panel.listings]
    assert "shelf://team/results" in labels
    assert not any("_ShelfCache" in label for label in labels)
    (listing,) = [item for item in panel.listings if item.label == "shelf://team/results"]
    assert full_location(listing.cache) == "shelf://team/results"


def test_a_redraw_updates_rows_in_place(panel: CheckpointPanel, cache: PickleFileCache) -> None:
    """A hit changes the text of its entry row; the row's widgets are not re-created."""

    @checkpoint(cache=cache)
    def ident(x: int) -> int:
        return x

    ident(1)
    ident(2)
    before = {id(row) for row in entry_rows(panel)}
    text = entry_row(panel, "x=1").children[0].value
    time.sleep(1.1)  # the last-used column shows seconds
    ident(1)
    assert {id(row) for row in entry_rows(panel)} == before
    assert entry_row(panel, "x=1").children[0].value != text


def test_a_dropped_memory_cache_is_not_kept_alive(panel: CheckpointPanel) -> None:
    """The record holds in-memory caches weakly, so their results can be freed."""
    memory = MemoryCache()

    @checkpoint(cache=memory)
    def one() -> int:
        return 1

    one()
    assert len(panel.listings) == 2
    del one, memory
    gc.collect()
    panel.refresh()
    gc.collect()
    assert len(panel.record.caches()) == 0
    panel.refresh()
    assert len(panel.listings) == 1


def test_a_cache_that_cannot_list_is_shown_with_the_reason() -> None:
    """A cache without ``entries`` gets a listing that says so instead of breaking."""

    class Minimal:
        def save(self, context_id: Any, result: Any) -> None:
            pass

        def retrieve(self, context_id: Any) -> Any:
            raise KeyError(context_id)

    (listing,) = list_caches([Minimal()], SessionRecord())
    assert listing.error == "this cache cannot list entries"
    assert listing.rows == []


def more_rows(panel: CheckpointPanel) -> list[Any]:
    """Return the "Show more" rows drawn, each an HBox of a text and its button."""
    return with_class(panel.widget, "checkpointing-more")


def test_show_more_reaches_every_entry_of_a_function(cache: PickleFileCache) -> None:
    """Beyond ``max_rows`` entries of a function a "Show more" row draws the rest on click."""

    @checkpoint(cache=cache)
    def ident(x: int) -> int:
        return x

    for x in range(5):
        ident(x)
    shown = CheckpointPanel([cache], record=SessionRecord(), max_rows=2)
    try:
        assert len(entry_rows(shown)) == 2
        (more,) = more_rows(shown)
        assert "3 more entries not shown" in more.children[0].value
        more.children[1].click()
        assert len(entry_rows(shown)) == 5
        assert more_rows(shown) == []
        entry_row(shown, "x=0").children[1].click()  # the oldest entry can be deleted
        assert sorted(info.arguments for info in cache.entries()) == [
            f"x={x}" for x in (1, 2, 3, 4)
        ]
    finally:
        shown.close()


def test_a_functions_only_entry_stays_visible_beside_a_big_function(
    cache: PickleFileCache,
) -> None:
    """Pages are per function: a big function does not hide another function's entry."""

    @checkpoint(cache=cache)
    def big(x: int) -> int:
        return x

    @checkpoint(cache=cache)
    def lonely() -> int:
        return 0

    lonely()
    for x in range(30):
        big(x)
    shown = CheckpointPanel([cache], record=SessionRecord(), max_rows=5)
    try:
        assert len(entry_rows(shown)) == 6
        entry_row(shown, "(no arguments)")
    finally:
        shown.close()


def test_the_filter_keeps_matching_functions_and_arguments(
    panel: CheckpointPanel, cache: PickleFileCache
) -> None:
    """Typing in the filter box keeps entries whose function or arguments contain the text."""

    @checkpoint(cache=cache)
    def alpha(x: int) -> int:
        return x

    @checkpoint(cache=cache)
    def beta(name: str) -> str:
        return name

    alpha(1), alpha(2), beta("needle"), beta("hay")
    panel.refresh()
    assert len(entry_rows(panel)) == 4
    panel.filter_box.value = "alpha"
    assert len(entry_rows(panel)) == 2
    entry_row(panel, "x=1")
    panel.filter_box.value = "NEEDLE"
    entry_row(panel, "name='needle'")
    assert len(entry_rows(panel)) == 1
    panel.filter_box.value = "nothing like it"
    assert entry_rows(panel) == []
    assert "No entry matches" in str([getattr(w, "value", "") for w in panel.cache_box.children])
    panel.filter_box.value = ""
    assert len(entry_rows(panel)) == 4


def test_many_functions_are_paged_too(cache: PickleFileCache) -> None:
    """Beyond a page of functions a "Show more" row draws the next functions."""
    for n in range(35):
        cache.save_entry(f"k{n}", n, _info(f"k{n}", f"mod.func{n}"))
    shown = CheckpointPanel([cache], record=SessionRecord())
    try:
        groups = with_class(shown.widget, "checkpointing-group")
        assert len(groups) == 30
        (more,) = more_rows(shown)
        assert "5 more functions not shown" in more.children[0].value
        more.children[1].click()
        assert len(with_class(shown.widget, "checkpointing-group")) == 35
    finally:
        shown.close()


def _info(key: str, function: str) -> Any:
    """Return the metadata of one entry of ``function`` saved by hand."""
    from checkpointing.interfaces import CallRecord, entry_info

    return entry_info(key, CallRecord(function, "", 0.5, {}))


def test_refresh_picks_up_entries_written_by_another_process(
    panel: CheckpointPanel, cache: PickleFileCache, tmp_path: Path
) -> None:
    """An entry written by another process appears once Refresh is clicked."""
    script = tmp_path / "elsewhere.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from checkpointing import checkpoint

            @checkpoint(sys.argv[1])
            def written_elsewhere(n):
                return list(range(n))

            written_elsewhere(7)
            """
        )
    )
    subprocess.run([sys.executable, str(script), str(cache.directory)], check=True, timeout=60)
    assert panel.listings[0].rows == []
    panel.refresh_button.click()
    (row,) = panel.listings[0].rows
    assert row.info.function == "__main__.written_elsewhere"
    assert row.info.arguments == "n=7"
    assert len(entry_rows(panel)) == 1


# --------------------------------------------------------------------------- clearing


def test_delete_removes_one_entry_file(panel: CheckpointPanel, cache: PickleFileCache) -> None:
    """The Delete button of a row deletes that entry's file and only it."""

    @checkpoint(cache=cache)
    def inc(x: int) -> int:
        return x + 1

    inc(1), inc(2)
    assert len(files(cache)) == 2
    entry_row(panel, "x=1").children[1].click()
    assert len(files(cache)) == 1
    assert [info.arguments for info in cache.entries()] == ["x=2"]
    entry_row(panel, "x=2")
    assert len(entry_rows(panel)) == 1
    assert "Deleted 1 entry." in panel.status.value
    inc(1)  # deleted means computed again
    assert session_row(panel, full_name(inc))["counts"] == "0 hits / 3 misses"


def test_clear_function_removes_only_that_functions_files(
    panel: CheckpointPanel, cache: PickleFileCache
) -> None:
    """The "Clear function" button deletes every entry of one function, no other."""

    @checkpoint(cache=cache)
    def keep(x: int) -> int:
        return x

    @checkpoint(cache=cache)
    def drop(x: int) -> int:
        return -x

    keep(1), drop(1), drop(2), drop(3)
    group_button(panel, full_name(drop)).click()
    assert [info.function for info in cache.entries()] == [full_name(keep)]
    assert len(files(cache)) == 1
    assert "Deleted 3 entries." in panel.status.value
    with pytest.raises(AssertionError):
        group_button(panel, full_name(drop))


def test_clear_all_asks_for_a_second_click_then_empties_every_cache(
    panel: CheckpointPanel, cache: PickleFileCache, tmp_path: Path
) -> None:
    """The first click on "Clear all" only arms it; the second deletes every listed entry."""

    @checkpoint(cache=cache)
    def a() -> int:
        return 1

    @checkpoint(tmp_path / "second")
    def b() -> int:
        return 2

    a(), b()
    button = panel.clear_all_button
    button.click()
    assert button.description == "Confirm: delete 2"
    assert button.button_style == "danger"
    assert len(files(cache)) == 1
    button.click()
    assert files(cache) == []
    assert list((tmp_path / "second").glob("*.pickle")) == []
    assert button.description == "Clear all"
    assert button.disabled  # nothing left to clear


def test_refresh_disarms_clear_all(panel: CheckpointPanel, cache: PickleFileCache) -> None:
    """A refresh between the two clicks cancels the pending "Clear all"."""
    cache.save("kept", 1)
    panel.refresh()
    panel.clear_all_button.click()
    panel.refresh_button.click()
    panel.clear_all_button.click()
    assert files(cache) == ["kept.pickle"]


def test_a_failed_deletion_is_reported_in_the_panel(panel: CheckpointPanel) -> None:
    """A cache that cannot delete shows the error in the status line instead of raising."""
    panel.delete_entry(object(), "x")
    assert "Could not delete: object cannot delete entries" in panel.status.value


# --------------------------------------------------------------------------- lifetime


def test_close_unsubscribes_and_closes_the_widgets(cache: PickleFileCache) -> None:
    """After close() events no longer reach the panel and its widgets are gone."""
    listeners = len(events._listeners)
    shown = CheckpointPanel([cache], record=SessionRecord(), live_interval=0, refresh_interval=0)
    assert len(events._listeners) == listeners + 1
    events.publish(event("miss"))
    shown.close()
    assert len(events._listeners) == listeners
    events.publish(event("hit"))
    assert count_text(shown.record.stats.functions()[0]) == "0 hits / 1 miss"
    assert shown.widget.comm is None
    assert shown.refresh_button.comm is None
    assert shown._repr_mimebundle_() == {"text/plain": "<closed checkpointing panel>"}
    shown.close()  # closing twice is harmless


def test_a_failing_watcher_does_not_stop_the_others() -> None:
    """Every watcher of a record hears each event, even after one of them raised."""
    record = SessionRecord()
    heard: list[str] = []

    def broken(event: CheckpointEvent) -> None:
        raise RuntimeError("broken panel")

    stop_broken = record.watch(broken)
    stop_heard = record.watch(lambda e: heard.append(e.kind))
    try:
        events.publish(event("miss"))
    finally:
        stop_broken()
        stop_heard()
    assert heard == ["miss"]
    assert not record.listening


def test_panel_displays_as_its_widget_tree(panel: CheckpointPanel) -> None:
    """The panel's mime bundle is the view of its root widget."""
    bundle = panel._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == panel.widget.model_id
    assert bundle["text/plain"] == "<checkpointing panel: 0 hits / 0 misses, saved: —>"


def test_show_panel_replaces_the_previous_panel(tmp_path: Path, session: SessionRecord) -> None:
    """show_panel() closes the panel it made before and accepts a cache directory."""
    first = show_panel(tmp_path / "a")
    second = show_panel([tmp_path / "b", MemoryCache()])
    try:
        assert first.closed
        assert not second.closed
        assert [type(c).__name__ for c in second.caches] == ["PickleFileCache", "MemoryCache"]
        assert Path(second.caches[0].directory) == tmp_path / "b"  # type: ignore[attr-defined]
    finally:
        second.close()


def test_a_panel_shown_late_counts_calls_made_since_recording_started(
    cache: PickleFileCache, session: SessionRecord
) -> None:
    """Calls made before the panel is shown count once the session is being recorded."""
    listeners = len(events._listeners)
    panel_module.start_session_recording()
    panel_module.start_session_recording()  # idempotent: one subscription
    assert len(events._listeners) == listeners + 1

    @checkpoint(cache=cache)
    def early() -> int:
        return 0

    try:
        early(), early()
        shown = CheckpointPanel([cache], live_interval=0, refresh_interval=0)
        early()
        assert session_row(shown, full_name(early))["counts"] == "2 hits / 1 miss"
        assert len(events._listeners) == listeners + 1  # the panel shares the subscription
        shown.close()
        early()  # still recording: the extension started it, not the panel
    finally:
        panel_module.stop_session_recording()
    assert len(events._listeners) == listeners
    early()
    assert panel_module.session_record() is session
    assert count_text(session.stats.functions()[0]) == "3 hits / 1 miss"


def test_loading_the_extension_starts_recording(
    session: SessionRecord, shell: Any, run_cell: Any
) -> None:
    """After %load_ext, a panel shown after some calls counts them; %unload_ext stops."""
    run_cell(shell, "from checkpointing import checkpoint\n@checkpoint()\ndef f(x):\n    return x")
    run_cell(shell, "f(1); f(1)")
    shown = run_cell(shell, "from ipython_ext.panel import show_panel\nshow_panel()")
    try:
        assert session_row(shown, "__main__.f")["counts"] == "1 hit / 1 miss"
        assert [r.info.arguments for r in shown.listings[0].rows] == ["x=1"]
    finally:
        shown.close()
    assert session.listening
    run_cell(shell, "%unload_ext checkpointing")
    assert not session.listening


def test_in_a_shell_held_back_updates_are_drawn_after_the_cell(
    shell: Any, run_cell: Any, tmp_path: Path
) -> None:
    """With long intervals, counters and entries are drawn when the cell ends."""
    cache = PickleFileCache(tmp_path / "cells")
    shell.user_ns["cache"] = cache
    shown = CheckpointPanel(
        [cache], record=SessionRecord(), live_interval=3600, refresh_interval=3600
    )
    try:
        run_cell(
            shell,
            "from checkpointing import checkpoint\n"
            "@checkpoint(cache=cache)\n"
            "def f(x):\n"
            "    return x",
        )
        run_cell(shell, "f(1); f(1); f(2)\nseen = len(cache.entries())")
        assert shell.user_ns["seen"] == 2
        assert session_row(shown, "__main__.f")["counts"] == "1 hit / 2 misses"
        assert len(entry_rows(shown)) == 2
    finally:
        shown.close()
    assert shown._after_cell not in shell.events.callbacks["post_run_cell"]


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1530, "1.5 kB"),
        (12_400_000, "12 MB"),
        (3 * 10**12, "3.0 TB"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    """Sizes read like a file browser's."""
    assert format_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0004, "<1 ms"),
        (0.25, "250 ms"),
        (1.234, "1.23 s"),
        (42.0, "42.0 s"),
        (125, "2 min 5 s"),
        (7300, "2 h 1 min"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    """Durations keep the precision a person cares about."""
    assert format_duration(seconds) == text


def test_format_timestamp_shortens_today() -> None:
    """Today shows the clock time, another year the date, and 0 is unknown."""
    now = time.mktime((2024, 6, 15, 12, 0, 0, 0, 0, -1))
    assert format_timestamp(now - 3600, now) == "11:00:00"
    assert format_timestamp(now - 40 * 86400, now).endswith("May 12:00")
    assert format_timestamp(now - 400 * 86400, now).startswith("2023-")
    assert format_timestamp(0, now) == "unknown"


def test_display_name_drops_the_notebook_module() -> None:
    """Notebook functions show without ``__main__.``; cells keep their label."""
    assert display_name("__main__.f") == "f"
    assert display_name("pkg.mod.f") == "pkg.mod.f"
    assert display_name("cell:load") == "cell:load"
    assert display_name("") == "(no name recorded)"


# --------------------------------------------------------------------------- outdated entries


def test_entries_of_older_code_are_marked_and_cleared(
    panel: CheckpointPanel, cache: PickleFileCache
) -> None:
    """After a function is redefined, its older entries are marked outdated and can be cleared."""

    @checkpoint(cache=cache)
    def model(x: int) -> int:
        return x

    model(1), model(2)
    panel.refresh()
    assert not any(row.outdated for row in panel.listings[0].rows)
    assert panel.clear_outdated_button.layout.display == "none"

    @checkpoint(cache=cache)  # type: ignore[no-redef]
    def model(x: int) -> int:
        return x * 10

    model(1)
    panel.refresh()
    assert sorted((r.info.arguments, r.outdated) for r in panel.listings[0].rows) == [
        ("x=1", False), ("x=1", True), ("x=2", True),
    ]  # fmt: skip
    assert "2 outdated" in with_class(panel.widget, "checkpointing-group")[0].children[0].value
    assert sum("checkpointing-outdated" in r.children[0].value for r in entry_rows(panel)) == 2
    assert panel.clear_outdated_button.description == "Clear 2 outdated"
    clear_here = with_class(panel.widget, "checkpointing-group")[0].children[1]
    assert clear_here.layout.display == ""
    clear_here.click()
    assert [(info.arguments) for info in cache.entries()] == ["x=1"]
    assert model(1) == 10  # the current entry was kept: a hit
    assert "Deleted 2 outdated entries." in panel.status.value
    assert panel.clear_outdated_button.layout.display == "none"


def test_clear_outdated_for_all_keeps_current_entries(
    panel: CheckpointPanel, cache: PickleFileCache
) -> None:
    """The header's "Clear outdated" deletes outdated entries of every function, no others."""

    @checkpoint(cache=cache)
    def a() -> int:
        return 1

    @checkpoint(cache=cache)
    def b() -> int:
        return 2

    a(), b()

    @checkpoint(cache=cache)  # type: ignore[no-redef]
    def a() -> int:
        return 3

    a()
    panel.refresh()
    panel.clear_outdated_button.click()
    assert sorted(info.function.rsplit(".", 1)[-1] for info in cache.entries()) == ["a", "b"]
    panel.refresh()
    assert not any(row.outdated for row in panel.listings[0].rows)

"""``python -m benchmarks.panel_scale``: time the notebook panel over a big cache.

Fills a directory cache with 10,000 entries (``--entries``), shows a panel in an IPython
shell (real ipywidgets models; a browser is not needed to measure the kernel side) and
prints the median time of Refresh, of Delete, of a filter and of 200 cheap misses with
and without a panel shown. The figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["main"]


def _median(action: Callable[[], object], repeat: int) -> float:
    """Return the median seconds ``action`` takes over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.panel_scale")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()

    from IPython.testing.globalipapp import start_ipython

    from checkpointing import PickleFileCache
    from checkpointing.interfaces import CallRecord, entry_info

    shell = start_ipython()  # type: ignore[no-untyped-call]
    assert shell is not None
    directory = Path(tempfile.mkdtemp(prefix="panel-scale-"))
    cache = PickleFileCache(directory / "big")
    start = time.perf_counter()
    for n in range(options.entries):
        key = f"k{n}"
        record = CallRecord(f"__main__.func{n % 7}", f"n={n}", 0.5, {})
        cache.save_entry(key, n, entry_info(key, record))
    print(f"filled {options.entries} entries in {time.perf_counter() - start:.1f} s")
    shell.user_ns["cache"] = cache
    shell.run_cell("%load_ext checkpointing")
    start = time.perf_counter()
    shell.run_cell(
        "from ipython_ext.panel import CheckpointPanel\npanel = CheckpointPanel([cache])"
    )
    print(f"first panel (reads every entry): {time.perf_counter() - start:.3f} s")
    panel = shell.user_ns["panel"]
    print(f"Refresh: {_median(panel.refresh_button.click, options.repeat):.3f} s (median)")
    victims = iter(list(panel.listings[0].rows))

    def delete() -> None:
        row = next(victims)
        panel.delete_entry(cache, row.info.context_id)

    print(f"Delete: {_median(delete, options.repeat):.3f} s (median)")

    def search() -> None:
        panel.filter_box.value = "n=99" if panel.filter_box.value != "n=99" else "func3"

    print(f"filter: {_median(search, options.repeat):.3f} s (median)")
    panel.close()

    shell.run_cell(
        f"from checkpointing import checkpoint\n@checkpoint({str(directory / 'cheap')!r})\n"
        "def cheap(i):\n    return i\n"
    )
    for label, setup in (("without a panel", ""), ("with a panel", "p = CheckpointPanel()\n")):
        shell.run_cell(setup + "cheap(-1)")
        start = time.perf_counter()
        shell.run_cell(
            f"for i in range({len(label) * 1000}, {len(label) * 1000 + 200}):\n    cheap(i)"
        )
        print(f"200 cheap misses {label}: {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()

"""The benchmark suite: checkpointing beside joblib.Memory and the machine's raw floor.

Run it with ``python -m benchmarks`` (``make bench``); ``--help`` lists the options. Every
measurement runs in a fresh worker process with a fresh cache directory, so one case's
imports, caches and memory state cannot flatter or penalise another; the figures are
medians of repeated samples, compared within one run as ratios, because absolute times
on shared machines drift between runs.

Modules, by concern:

* ``plan``: sizes and repeat counts of a full, big or smoke run;
* ``timing``: how a sample is taken (loops of calls, one call, whole processes);
* ``subjects``: the functions being cached, defined in a file so both libraries can
  read their source;
* ``libraries``: the two caches behind one small interface;
* ``cases`` and ``floor``: what is measured for the libraries, and for the floor;
* ``worker``: the child process that takes one measurement;
* ``runner``, ``targets``, ``report``: orchestration, the issue's targets, the output.
"""

from __future__ import annotations

__all__: list[str] = []

"""How many CPU threads a heavy step should use on a shared machine (llama.cpp, torch): a neutral
utility of the corpus stage, used by the model backends and by the face for torch."""
from __future__ import annotations

import os


def free_threads(max_threads: int | None = None) -> int:
    """Threads worth using now: the cores this process may run on, minus the 1-minute load average.

    llama.cpp's threads wait for each other at every layer, so one thread stalled by another process
    stalls all of them: on a shared 2-core machine ``n_threads=2`` under load ran 10-50x slower than 1.
    THEORYCOV_LLM_THREADS overrides the guess.
    """
    env = os.environ.get("THEORYCOV_LLM_THREADS")
    if env:
        return max(1, int(env))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    n = max(1, min(cores, int(cores - load + 0.5)))
    return min(n, max_threads) if max_threads else n


__all__ = ["free_threads"]

"""Run a ``nogil`` kernel over contiguous ranges of work items on Numba's thread count.

The customer step used to be one ``prange`` kernel. Numba lowers a ``prange`` loop by outlining
its body into a new function and compiling it again with every array it touches as an argument:
for the step, five seconds of a first run's compilation bought nothing a thread pool does not
give. Here the kernel is compiled once, as a plain ``nogil`` function taking a range of items,
and Python threads call it on disjoint ranges; the GIL is released for the whole call.

The split depends only on the item count and the thread count, and every item writes only its
own slots, so results are identical whatever the number of threads (as with ``prange``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numba

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child: the parent's pool threads do not exist here, so start a new pool."""
    global _pool, _pool_lock
    _pool = None
    _pool_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _executor() -> ThreadPoolExecutor:
    """The process's pool: as many workers as Numba may use (``NUMBA_NUM_THREADS``)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=numba.config.NUMBA_NUM_THREADS,
                                       thread_name_prefix="ecosim-kernel")
        return _pool


def split(n_items: int, n_threads: int) -> list[tuple[int, int]]:
    """``[first, last)`` ranges of ``n_items`` for ``n_threads``: contiguous, in order, none empty.

    Sizes differ by at most one item (a static schedule, as ``prange``'s).
    """
    parts = max(1, min(n_threads, n_items))
    return [(t * n_items // parts, (t + 1) * n_items // parts) for t in range(parts)]


def run_ranges(kernel: Callable[..., Any], n_items: int, *args: Any) -> None:
    """Call ``kernel(first, last, *args)`` on ``split(n_items, numba.get_num_threads())``.

    ``kernel`` must be compiled with ``nogil=True`` and write only to the slots of its own items.
    The calling thread runs the first range itself. Every range runs to its end before anything
    is raised: then the calling thread's exception, else the first range's that failed. Not to be
    called from inside a kernel this runs (the pool's threads would wait on themselves).
    """
    ranges = split(n_items, numba.get_num_threads())
    if len(ranges) == 1:
        kernel(*ranges[0], *args)
        return
    futures = [_executor().submit(kernel, first, last, *args) for first, last in ranges[1:]]
    try:
        kernel(*ranges[0], *args)
    finally:
        wait(futures)  # no range may still be writing when this returns or raises
    for future in futures:
        future.result()

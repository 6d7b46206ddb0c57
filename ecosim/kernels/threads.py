"""Run a ``nogil`` kernel over contiguous ranges of work items on Numba's thread count.

The customer step used to be one ``prange`` kernel. Numba lowers a ``prange`` loop by outlining
its body into a new function and compiling it again with every array it touches as an argument:
for the step, five seconds of a first run's compilation bought nothing a thread pool does not
give. Here the kernel is compiled once, as a plain ``nogil`` function taking a range of items,
and Python threads call it on disjoint ranges; the GIL is released for the whole call.

Every item writes only its own slots, so results are identical whatever the number of threads
and whichever thread runs which chunk of items (as with ``prange``).
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


#: The smallest chunk is this fraction of a thread's share of the items (see ``chunks``).
SMALLEST_CHUNK = 32


def chunks(n_items: int, n_threads: int) -> list[tuple[int, int]]:
    """``[first, last)`` chunks of ``n_items`` in the order threads claim them: guided schedule.

    Each chunk is half the remaining items' share per thread (``remaining // (2 n_threads)``),
    but at least ``n_items / (SMALLEST_CHUNK n_threads)`` items (and one): big chunks first,
    few calls, and small ones at the end so that the threads finish together. Contiguous, in
    order, none empty; one chunk for one thread.
    """
    if n_threads <= 1 or n_items <= 1:
        return [(0, n_items)]
    smallest = max(1, -(-n_items // (SMALLEST_CHUNK * n_threads)))
    out = []
    first = 0
    while first < n_items:
        last = min(n_items, first + max(smallest, (n_items - first) // (2 * n_threads)))
        out.append((first, last))
        first = last
    return out


class _Claims:
    """The chunks of one call, claimed one at a time by whichever thread is free."""

    def __init__(self, work: list[tuple[int, int]]) -> None:
        self._work = work
        self._next = 0
        self._lock = threading.Lock()
        self.failed = False  # once a chunk has raised, no chunk is started

    def claim(self) -> tuple[int, int] | None:
        with self._lock:
            if self.failed or self._next == len(self._work):
                return None
            self._next += 1
            return self._work[self._next - 1]


def _run_claims(kernel: Callable[..., Any], claims: _Claims, args: tuple[Any, ...]) -> None:
    """Run chunks until none is left (or one has failed): one thread's share of the work."""
    while (chunk := claims.claim()) is not None:
        try:
            kernel(*chunk, *args)
        except BaseException:
            claims.failed = True
            raise


def run_ranges(kernel: Callable[..., Any], n_items: int, *args: Any) -> None:
    """Call ``kernel(first, last, *args)`` on chunks of the items, on ``numba.get_num_threads()``.

    ``kernel`` must be compiled with ``nogil=True`` and write only to the slots of its own items,
    so which thread runs which chunk changes no result. The chunks (``chunks``) are claimed by
    whichever thread is free, so a thread slowed down (another process, or the hypervisor taking
    its core back for a while) takes fewer: on the 2-core test machine a static split into
    halves left one thread idle for 1-15 % of each step. The calling thread works too. Once a
    chunk raises, no new chunk starts; the chunks running finish before anything is raised:
    then the calling thread's exception, else the first failure of a pool thread. Not to be
    called from inside a kernel this runs (the pool's threads would wait on themselves).
    """
    n_threads = max(1, min(numba.get_num_threads(), n_items))
    work = chunks(n_items, n_threads)
    if len(work) == 1:
        kernel(*work[0], *args)
        return
    claims = _Claims(work)
    futures = [_executor().submit(_run_claims, kernel, claims, args)
               for _ in range(n_threads - 1)]
    try:
        _run_claims(kernel, claims, args)
    finally:
        wait(futures)  # no chunk may still be writing when this returns or raises
    for future in futures:
        future.result()

"""``kernels.threads`` and ``kernels.jit``: range kernels on threads, scalar helpers typed once."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numba import njit

from ecosim.kernels.threads import SMALLEST_CHUNK, chunks, run_ranges


@njit(nogil=True, cache=True)
def _fill(first, last, out):
    """Each item writes only its own slot (what ``run_ranges`` requires)."""
    for i in range(first, last):
        out[i] = 3 * i + 1


@njit(nogil=True, cache=True)
def _fail_at(first, last, bad):
    for i in range(first, last):
        if i == bad:
            raise ValueError("bad item")


@pytest.mark.parametrize("n_items, n_threads",
                         [(0, 2), (1, 2), (7, 2), (10, 3), (64, 2), (5, 8), (10**7, 2), (2442, 4)])
def test_chunks_partition_the_items_in_order_big_first(n_items, n_threads):
    work = chunks(n_items, n_threads)
    assert work[0][0] == 0 and work[-1][1] == n_items
    assert all(a[1] == b[0] for a, b in zip(work, work[1:], strict=False))
    sizes = [last - first for first, last in work]
    assert all(size > 0 for size in sizes) or n_items == 0
    assert sizes == sorted(sizes, reverse=True)  # guided: big chunks first, small at the end
    smallest = max(1, -(-n_items // (SMALLEST_CHUNK * n_threads)))
    assert all(size >= smallest for size in sizes[:-1])
    # the first chunk is a quarter of the work for two threads, few calls in all
    if n_items >= 64 * n_threads:
        assert sizes[0] == n_items // (2 * n_threads)
        assert len(work) <= 2 * n_threads * 6 + SMALLEST_CHUNK


def test_one_thread_is_one_chunk():
    assert chunks(1000, 1) == [(0, 1000)]


@pytest.mark.parametrize("threads", [1, 2])
def test_run_ranges_covers_every_item_once(threads):
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        out = np.zeros(1001, np.int64)
        run_ranges(_fill, out.shape[0], out)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(out, 3 * np.arange(1001) + 1)


def test_an_error_in_another_thread_is_raised_to_the_caller():
    previous = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        with pytest.raises(ValueError, match="bad item"):
            run_ranges(_fail_at, 100, 99)  # the last range: a pool thread when there are two
    finally:
        numba.set_num_threads(previous)


def test_scalar_compiles_the_one_signature_its_annotations_state():
    from ecosim.kernels.jit import scalar, signature_of
    from ecosim.kernels.rng import STREAM_ORDER, stream_key, uniform

    assert str(signature_of(uniform.py_func)) == "(uint64, int64, int64, int64, int64) -> float64"
    # constants and literals are converted to it, not compiled again
    assert len(stream_key.overloads) == 1 and len(uniform.overloads) == 1
    assert stream_key(np.uint64(7), STREAM_ORDER, 0) == stream_key(7, np.int64(STREAM_ORDER), 0)

    def untyped(x, y: int) -> float:
        return x + y

    with pytest.raises(TypeError, match="untyped: annotation 'x' is missing"):
        scalar(untyped)


def _fill_in_child(queue):
    out = np.zeros(101, np.int64)
    run_ranges(_fill, out.shape[0], out)
    queue.put(int(out.sum()))


def test_a_forked_child_runs_ranges_on_its_own_pool():
    import multiprocessing

    previous = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    try:
        run_ranges(_fill, 10, np.zeros(10, np.int64))  # the parent's pool exists before the fork
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_fill_in_child, args=(queue,))
        child.start()
        child.join(60)
        assert child.exitcode == 0, "the child hung or failed (a pool inherited without threads)"
        assert queue.get(timeout=5) == int((3 * np.arange(101) + 1).sum())
    finally:
        numba.set_num_threads(previous)


@njit(nogil=True, cache=True)
def _slow_fill_fail_first(first, last, out):
    """The first chunk fails at once; the others take a while to write their slots."""
    if first == 0:
        raise ValueError("first chunk failed")
    for i in range(first, last):
        x = 0.0
        for j in range(200_000):
            x += np.sqrt(j + i)
        out[i] = x


def test_no_chunk_is_running_when_an_error_is_raised():
    """Once a chunk fails no chunk starts, and those running finish before the error is raised."""
    import time

    previous = numba.get_num_threads()
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    try:
        out = np.zeros(400)
        work = chunks(out.shape[0], numba.get_num_threads())
        with pytest.raises(ValueError, match="first chunk failed"):
            run_ranges(_slow_fill_fail_first, out.shape[0], out)
        seen = out.copy()
        time.sleep(0.2)
        np.testing.assert_array_equal(out, seen)  # nothing is left writing
        for first, last in work:  # a chunk ran whole or not at all
            assert np.all(out[first:last] > 0) or np.all(out[first:last] == 0)
        assert np.all(out[:work[0][1]] == 0)
        if numba.get_num_threads() > 1:
            assert np.all(out[-1] == 0)  # the pool thread stopped before the last chunk
    finally:
        numba.set_num_threads(previous)


def test_scalar_takes_annotations_as_types_too():
    from ecosim.kernels.jit import signature_of

    def typed(x: int, y: float) -> bool:  # real types, as without postponed annotations
        return x > y

    typed.__annotations__ = {"x": int, "y": float, "return": bool}
    assert str(signature_of(typed)) == "(int64, float64) -> bool"

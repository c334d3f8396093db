"""tools/sparse_snapshot.py: the snapshot file without its zero pages, and back.

The worker rebuilds the memory from this form (``static/engage-worker.mjs``); these tests hold
the Python side to the same layout: nothing lost, zeros left out, damaged tables refused.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tools.snapshot import snapshot_build_id
from tools.sparse_snapshot import PAGE, SPARSE_MAGIC, SparseSnapshotError, dense, is_sparse, sparse

MAGIC = 1886286592
START = 64   # header (48 bytes) and a 16-byte JSON state


def snapshot(memory: bytes, build: int = 7) -> bytes:
    """A Pyodide-form snapshot: its header, a JSON state, then ``memory``."""
    head = struct.pack("<12I", MAGIC, START, 2, 0, *([build] * 8))
    return head + b"{}" + bytes(START - 50) + memory


def memories() -> st.SearchStrategy[bytes]:
    """Memories of whole and partial pages, each page zero or holding some bytes."""
    page = st.one_of(
        st.just(bytes(PAGE)),
        st.binary(min_size=1, max_size=8).map(lambda b: b + bytes(PAGE - len(b))),
        st.binary(min_size=PAGE, max_size=PAGE),
    )
    tail = st.binary(max_size=PAGE - 1)
    return st.tuples(st.lists(page, max_size=12), tail).map(lambda p: b"".join(p[0]) + p[1])


@given(memories())
def test_the_sparse_form_gives_back_every_byte(memory: bytes):
    """dense(sparse(s)) is s, for any memory: zero pages, full pages, a partial last page."""
    assume(not memory.startswith(b"EWS1"))   # Pyodide's memory starts with the null page
    raw = snapshot(memory)
    packed = sparse(raw)
    assert dense(packed) == raw
    assert is_sparse(packed)
    assert not is_sparse(raw)
    assert snapshot_build_id(packed) == snapshot_build_id(raw)   # the header stays first


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=40))
def test_zero_pages_are_left_out(zero_pages: int, full_pages: int):
    """A page of zeros costs nothing in the file; a page holding anything is kept whole."""
    memory = bytes(zero_pages * PAGE) + b"\x01" * (full_pages * PAGE)
    packed = sparse(snapshot(memory))
    table = 16 + (8 if full_pages else 0)
    assert len(packed) == START + table + full_pages * PAGE


def test_runs_are_the_stretches_of_pages_that_hold_something():
    """Adjacent pages holding bytes make one run; a zero page between them splits it."""
    memory = b"a" + bytes(PAGE - 1) + b"b" * PAGE + bytes(PAGE) + b"c" * 10
    packed = sparse(snapshot(memory))
    magic, size, count, _ = struct.unpack_from("<4I", packed, START)
    runs = [struct.unpack_from("<2I", packed, START + 16 + 8 * i) for i in range(count)]
    assert (magic, size) == (SPARSE_MAGIC, len(memory))
    assert runs == [(0, 2 * PAGE), (3 * PAGE, 10)]


def _with_run(packed: bytes, index: int, offset: int, length: int) -> bytes:
    at = START + 16 + 8 * index
    return packed[:at] + struct.pack("<2I", offset, length) + packed[at + 8 :]


TWO_RUNS = sparse(snapshot(b"x" * PAGE + bytes(PAGE) + b"y" * PAGE))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (TWO_RUNS[:-1], "does not fit"),
        (TWO_RUNS + b"\x00", "after the last run"),
        (_with_run(TWO_RUNS, 1, 0, PAGE), "run 1"),                 # overlaps run 0
        (_with_run(TWO_RUNS, 1, 3 * PAGE, PAGE), "run 1"),          # past the memory's end
        (_with_run(TWO_RUNS, 0, 0, 2**31), "run 0"),                # longer than the file
        (snapshot(b"x" * PAGE), "not a sparse snapshot"),           # Pyodide's own form
        (b"nope", "no snapshot"),
        (struct.pack("<12I", MAGIC, 2**20, 0, 0, *range(8)), "starts at"),
    ],
    ids=["truncated", "trailing", "overlap", "past-memory", "too-long", "dense", "short",
         "bad-start"],
)
def test_a_table_that_does_not_fit_its_bytes_is_refused(data: bytes, message: str):
    """What the worker would refuse too: the error says which part does not fit."""
    with pytest.raises(SparseSnapshotError, match=message):
        dense(data)

"""The memory snapshot without its zero pages: the file the worker downloads and restores.

A Pyodide snapshot is its header and JSON state followed by the whole WebAssembly memory: 30 MiB
for Pyodide 314, more than half of it pages that were never written. Those zeros compress to
almost nothing, but the browser still inflates them, hands them to the worker, hashes them and
copies them into the memory, which is zero already where the snapshot is. So the build stores
only the pages that hold something, and the worker writes them back (``static/engage-worker.mjs``,
``snapshotModuleFactory``): 14 MB to inflate, hash and copy instead of 31 MB (about 0.1 s less
of a first answer on the project's 2-core machine, measured A/B).

Layout (little-endian ``u32`` words)::

    [0, start)                Pyodide's header and JSON state as Pyodide wrote them
                              (``start`` is the header's second word: where its memory began)
    [start, start + 16)       SPARSE_MAGIC, memory size in bytes, run count n, 0
    [start + 16, + 8 n)       n runs: (offset in the memory, length), ascending, not touching
    then                      the runs' bytes, one after another

Memory outside the runs is zero. Pyodide's header stays first, so the build id is read from the
same place in both forms (:func:`tools.snapshot.snapshot_build_id`). Example::

    >>> import struct
    >>> head = struct.pack("<12I", 1886286592, 48, 0, 0, *range(8))
    >>> raw = head + bytes(PAGE) + b"hello" + bytes(2 * PAGE - 5)
    >>> packed = sparse(raw)
    >>> len(raw), len(packed)
    (12336, 4168)
    >>> dense(packed) == raw
    True
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

__all__ = ["PAGE", "SPARSE_MAGIC", "SparseSnapshotError", "dense", "is_sparse", "sparse"]

#: The granularity of the runs: a zero page of this size is left out.
PAGE = 4096
#: The first word after Pyodide's header: "EWS1" (engage-web sparse snapshot, version 1).
SPARSE_MAGIC = int.from_bytes(b"EWS1", "little")

_WORD = struct.Struct("<I")
_TABLE = struct.Struct("<4I")
_RUN = struct.Struct("<2I")
_PYODIDE_HEADER = 48


class SparseSnapshotError(ValueError):
    """Bytes that are not a snapshot in the expected form (dense or sparse)."""


def _memory_start(data: bytes) -> int:
    if len(data) < _PYODIDE_HEADER:
        raise SparseSnapshotError(f"{len(data)} bytes is no snapshot (its header is 48)")
    start = _WORD.unpack_from(data, 4)[0]
    if start < _PYODIDE_HEADER or start > len(data) or start % 16:
        raise SparseSnapshotError(f"the header says the memory starts at {start}")
    return start


def _runs(memory: memoryview) -> Iterator[tuple[int, int]]:
    """(offset, length) of each stretch of pages holding a byte other than zero."""
    zero = bytes(PAGE)
    begin = None
    for at in range(0, len(memory), PAGE):
        page = memory[at : at + PAGE]
        empty = page == zero[: len(page)]
        if not empty and begin is None:
            begin = at
        elif empty and begin is not None:
            yield begin, at - begin
            begin = None
    if begin is not None:
        yield begin, len(memory) - begin


def is_sparse(data: bytes) -> bool:
    """Whether ``data`` is a snapshot in the sparse form (else it is Pyodide's own, whose memory
    starts with the null page: zeros, never the magic)."""
    start = _memory_start(data)
    return len(data) >= start + 4 and _WORD.unpack_from(data, start)[0] == SPARSE_MAGIC


def sparse(raw: bytes) -> bytes:
    """Pyodide's snapshot ``raw`` without its zero pages (see the module's layout).

    Raises :class:`SparseSnapshotError` when ``raw`` has no snapshot header.
    """
    start = _memory_start(raw)
    memory = memoryview(raw)[start:]
    runs = list(_runs(memory))
    table = _TABLE.pack(SPARSE_MAGIC, len(memory), len(runs), 0)
    table += b"".join(_RUN.pack(offset, length) for offset, length in runs)
    return b"".join([raw[:start], table, *(memory[o : o + n] for o, n in runs)])


def dense(data: bytes) -> bytes:
    """Pyodide's own snapshot from its sparse form: what the worker rebuilds in memory.

    Raises :class:`SparseSnapshotError` for a table that does not fit the bytes: runs out of
    order, overlapping, outside the memory, or longer than the data that follows.
    """
    start = _memory_start(data)
    if len(data) < start + _TABLE.size:
        raise SparseSnapshotError("no run table after the header")
    magic, size, count, _ = _TABLE.unpack_from(data, start)
    if magic != SPARSE_MAGIC:
        raise SparseSnapshotError("not a sparse snapshot (no run table after the header)")
    at = start + _TABLE.size + count * _RUN.size
    if at > len(data):
        raise SparseSnapshotError(f"{count} runs do not fit in {len(data)} bytes")
    memory = bytearray(size)
    end = 0
    for index in range(count):
        offset, length = _RUN.unpack_from(data, start + _TABLE.size + index * _RUN.size)
        if offset < end or offset + length > size or at + length > len(data):
            raise SparseSnapshotError(f"run {index} ({offset}, {length}) does not fit")
        memory[offset : offset + length] = data[at : at + length]
        at += length
        end = offset + length
    if at != len(data):
        raise SparseSnapshotError(f"{len(data) - at} bytes after the last run")
    return bytes(data[:start]) + bytes(memory)

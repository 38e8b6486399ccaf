"""The snapshot file without its all-zero pages (issue 8).

Of the 38 MB of a memory snapshot, ~24 MB are pages that are all zeros (the stack, the
heap's untouched top, and the delta's ranges once XORed: tracker/build/snapshot_delta.py).
Compression makes them free on the wire, but the browser still receives, hashes and
copies every decoded byte: ~2.7 times the work. The file that ships holds only the
non-zero pages, in order; ``runs`` says where each stretch of them goes, and the memory
the browser allocates is zeros already (web/src/runtime.js).
"""

from __future__ import annotations

PAGE_BYTES = 4096


def pack(snapshot: bytes, page_bytes: int = PAGE_BYTES) -> tuple[bytes, list[list[int]]]:
    """The packed file and its runs: ``[at, length]`` in the snapshot, one per stretch of
    consecutive non-zero pages (the last page may be short)."""
    runs: list[list[int]] = []
    zeros = bytes(page_bytes)
    for at in range(0, len(snapshot), page_bytes):
        page = snapshot[at : at + page_bytes]
        if page == zeros[: len(page)]:
            continue
        if runs and runs[-1][0] + runs[-1][1] == at:
            runs[-1][1] += len(page)
        else:
            runs.append([at, len(page)])
    return b"".join(snapshot[at : at + length] for at, length in runs), runs


def unpack(packed: bytes, runs: list[list[int]], size: int) -> bytes:
    """The snapshot again (what the browser does; here for the tests and the build's check)."""
    whole = bytearray(size)
    offset = 0
    for at, length in runs:
        whole[at : at + length] = packed[offset : offset + length]
        offset += length
    if offset != len(packed):
        raise ValueError(f"runs cover {offset} bytes of a {len(packed)}-byte file")
    return bytes(whole)

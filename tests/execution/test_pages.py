"""Huge-page advice for large artifact buffers: it reaches the kernel for the right range and changes no byte."""

from __future__ import annotations

import ctypes
import mmap
import os
import pickle
import sys
from pathlib import Path

import pytest

from flowkit.datastore import DataStore, blob_format
from flowkit.datastore.pages import HUGE_PAGE_BYTES, advise_huge_pages

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or not Path("/sys/kernel/mm/transparent_hugepage").is_dir(),
    reason="huge-page advice needs Linux with transparent huge pages",
)


def _fresh(size: int) -> mmap.mmap:
    """A buffer in a mapping of its own: heap memory may carry advice an earlier test gave a buffer there."""
    return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


def _address(buffer: mmap.mmap) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))


def _advised_ranges() -> list[tuple[int, int]]:
    """The mappings of this process that carry the huge-page advice ('hg' in their VmFlags)."""
    ranges: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            low, high = head.split("-")
            current = (int(low, 16), int(high, 16))
        elif head == "VmFlags:" and current is not None and "hg" in line.split()[1:]:
            ranges.append(current)
    return ranges


def _advised_bytes_within(start: int, end: int) -> int:
    return sum(max(0, min(end, high) - max(start, low)) for low, high in _advised_ranges())


@pytest.mark.parametrize("writable", [True, False], ids=["writable", "read-only"])
def test_the_aligned_inside_of_a_buffer_is_advised_and_its_bytes_are_unchanged(writable: bool) -> None:
    content = os.urandom(3 * HUGE_PAGE_BYTES + 12345)
    margin = HUGE_PAGE_BYTES + 4096 - 7  # the buffer starts at no particular alignment, with room on both sides
    mapping = _fresh(margin + len(content) + HUGE_PAGE_BYTES)
    mapping_start = _address(mapping)
    mapping[margin : margin + len(content)] = content
    start, end = mapping_start + margin, mapping_start + margin + len(content)
    view = memoryview(mapping)[margin : margin + len(content)]
    advise_huge_pages(view if writable else view.toreadonly())
    aligned_start = -(-start // HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES
    aligned_end = end // HUGE_PAGE_BYTES * HUGE_PAGE_BYTES
    assert _advised_bytes_within(start, end) == aligned_end - aligned_start > 0
    assert _advised_bytes_within(mapping_start, start) == 0
    assert _advised_bytes_within(end, mapping_start + len(mapping)) == 0
    assert view == content
    view.release()


def test_a_buffer_smaller_than_a_huge_page_is_left_alone() -> None:
    buffer = _fresh(2 * HUGE_PAGE_BYTES)
    start = _address(buffer) + HUGE_PAGE_BYTES // 2
    with memoryview(buffer)[HUGE_PAGE_BYTES // 2 : HUGE_PAGE_BYTES // 2 + HUGE_PAGE_BYTES] as view:
        advise_huge_pages(view)
    assert _advised_bytes_within(start, start + HUGE_PAGE_BYTES) == 0


def test_storing_a_large_artifact_advises_its_buffer(tmp_path: Path) -> None:
    """The writer reads the user's buffer once: advised first, never-written memory maps the huge zero page."""
    buffer = _fresh(blob_format.PARALLEL_MIN_BYTES + 3 * HUGE_PAGE_BYTES)
    start = _address(buffer)
    store = DataStore(tmp_path)
    ref = store.put_artifact(pickle.PickleBuffer(buffer))  # protocol 5 hands the pickler the buffer itself
    assert _advised_bytes_within(start, start + len(buffer)) >= len(buffer) - 2 * HUGE_PAGE_BYTES
    assert store.blobs.load(ref.sha256) == buffer


def test_loading_a_large_raw_artifact_leaves_its_new_buffer_unadvised(tmp_path: Path) -> None:
    """Every byte of it is written: huge pages would only be zeroed (and, on some virtual machines, backed again).

    Over 32 MiB, the most glibc ever takes from its heap, so the buffer is a mapping of its own."""
    store = DataStore(tmp_path)
    ref = store.put_artifact(os.urandom(40 << 20))
    loaded = store.blobs.load(ref.sha256)
    start = ctypes.cast(ctypes.c_char_p(loaded), ctypes.c_void_p).value or 0
    assert _advised_bytes_within(start, start + len(loaded)) == 0

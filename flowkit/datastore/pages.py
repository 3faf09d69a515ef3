"""Huge-page advice for the large buffers that artifacts are pickled from and unpickled into.

A task process touches a large artifact's memory for the first time while (de)serializing it: the writer reads the
buffer the user built (``bytes(n)`` and ``numpy.zeros`` leave it unmapped until read), the reader of a compressed blob
fills the buffer the unpickler has just allocated, skipping its frames of zeros. With 4 KiB pages that is one page
fault per 4 KiB, and on virtual machines a fault costs a microsecond or more: reading a fresh 200 MiB buffer took
66 ms of faults, against 8 ms once the range was advised to use 2 MiB pages (where never-written memory then maps the
kernel's shared huge zero page). A buffer that is written all over is better left alone (see
``flowkit.datastore.blob_reader._RawStream``): each huge page is then zeroed and backed for real, and on virtual
machines that hand free memory back to the host that was at times three times slower than 4 KiB pages.

Linux only, and best effort: ``madvise(MADV_HUGEPAGE)`` changes no byte of the buffer, and where it is unavailable
or refused nothing happens. Only the 2 MiB-aligned part wholly inside the buffer is advised, so no neighbouring
allocation is affected.
"""

from __future__ import annotations

import sys
from typing import Any

HUGE_PAGE_BYTES = 2 << 20
_MADV_HUGEPAGE = 14  # linux/mman.h
_PyBUF_SIMPLE = 0

_loaded: Any = None
"""The bound libc ``madvise`` and what reads a buffer's address, set up on first use; False where unavailable."""


def advise_huge_pages(buffer: Any) -> None:
    """Ask the kernel to back the aligned 2 MiB pages wholly inside ``buffer`` with huge pages."""
    functions = _functions()
    if not functions:
        return
    madvise, address_of = functions
    start, length = address_of(buffer)
    aligned_start = -(-start // HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES
    aligned_end = (start + length) // HUGE_PAGE_BYTES * HUGE_PAGE_BYTES
    if aligned_end > aligned_start:
        madvise(aligned_start, aligned_end - aligned_start, _MADV_HUGEPAGE)  # a refusal (EINVAL) changes nothing


def _functions() -> Any:
    """(madvise, address_of) through ctypes, imported only once a buffer is large enough to need them."""
    global _loaded
    if _loaded is None:
        _loaded = _load() if sys.platform == "linux" else False
    return _loaded


def _load() -> Any:
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return False
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int

    class PyBuffer(ctypes.Structure):
        """CPython's ``Py_buffer`` (part of the stable ABI since 3.11, unchanged since 3.3)."""

        _fields_ = [
            ("buf", ctypes.c_void_p),
            ("obj", ctypes.py_object),
            ("len", ctypes.c_ssize_t),
            ("itemsize", ctypes.c_ssize_t),
            ("readonly", ctypes.c_int),
            ("ndim", ctypes.c_int),
            ("format", ctypes.c_char_p),
            ("shape", ctypes.c_void_p),
            ("strides", ctypes.c_void_p),
            ("suboffsets", ctypes.c_void_p),
            ("internal", ctypes.c_void_p),
        ]

    get_buffer = ctypes.pythonapi.PyObject_GetBuffer
    get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(PyBuffer), ctypes.c_int]
    get_buffer.restype = ctypes.c_int
    release_buffer = ctypes.pythonapi.PyBuffer_Release
    release_buffer.argtypes = [ctypes.POINTER(PyBuffer)]
    release_buffer.restype = None

    def address_of(buffer: Any) -> tuple[int, int]:
        """Start address and length of a contiguous buffer, read-only ones too (``from_buffer`` refuses those)."""
        view = PyBuffer()
        get_buffer(buffer, ctypes.byref(view), _PyBUF_SIMPLE)
        try:
            return view.buf or 0, view.len
        finally:
            release_buffer(ctypes.byref(view))

    return madvise, address_of

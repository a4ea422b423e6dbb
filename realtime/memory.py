"""Keep the memory a frame frees in the process, for the next frame, instead of handing it back
to the kernel and faulting it in again.

A frame at 1920x1080 is 6.2 MB as BGR bytes and 8.3 MB as a float plane, and every step that
makes a new one (a resize, a blend, the person mask's refinement) asks malloc for that much.
By default glibc's malloc serves a block that large with fresh pages from the kernel (its mmap
threshold starts at 128 KiB and only rises as such blocks are freed) and hands freed memory
back once more than its trim threshold is free at the top of a heap, so many such arrays cost a
few thousand page faults each, the kernel zeroing every page: the person mask's refinement at
1080p (two float planes grown from the small fit, a product, a sum), timed alone, took 1447
page faults and 9–15 ms a call on the 2-core machine, none and 3.7–5.2 ms with the two settings
below. They make malloc keep blocks up to 32 MiB (its largest allowed threshold) on its heaps
and up to 256 MiB of freed memory there, so the process stays at its largest working set
instead of shrinking between frames: a 300-frame `--background blur` run at 1080p had 40 k page
faults instead of 253 k, for the same peak memory (283 MB against 282), and the person mask of
`cartoon@blur` at 1080p, computed beside the network, took 18 ms instead of 36
(benchmarks/results/malloc-s30-cpu).

glibc only (Linux): elsewhere, or where the C library has no ``mallopt``, nothing is changed."""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest on 64-bit: 4 Mi × sizeof(long)
TRIM_THRESHOLD = 256 * 1024 * 1024

_done = False


def keep_freed_memory() -> bool:
    """Set both thresholds once per process; True where glibc took them."""
    global _done
    if _done:
        return True
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return False
    except (AttributeError, ValueError, OSError):  # not Linux, or another C library
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    log.debug("malloc keeps freed frames: %s", _done)
    return _done

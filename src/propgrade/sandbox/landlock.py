"""Whether this kernel has Landlock, which confines every worker's writes to its scratch.

The worker applies the rules itself (``inside/worker_main.py``: ``confine``); the trusted
side only asks which ABI the kernel offers, to say so in the layer's description and in
``propgrade doctor``.
"""

from __future__ import annotations

import ctypes
import functools

_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture
_LANDLOCK_CREATE_RULESET_VERSION = 1


@functools.cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 where Landlock is unavailable or disabled."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        version = libc.syscall(
            ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET),
            None,
            ctypes.c_size_t(0),
            ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION),
        )
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def describe_writes() -> str:
    """One clause on how workers' writes are confined here."""
    abi = landlock_abi()
    if abi:
        scoped = ", and cannot signal processes outside it" if abi >= 6 else ""
        return f"writes confined to its scratch folder by Landlock (ABI {abi}){scoped}"
    return "WARNING: writes are NOT confined to its scratch folder (this kernel has no Landlock)"

"""The full layer's syscall filter: a second wall behind the namespaces and the uid."""

from __future__ import annotations

import errno
import importlib
import importlib.util
import tempfile
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SeccompStatus:
    program: bytes | None  # a BPF program for ``bwrap --seccomp``, or None
    detail: str


_SECCOMP: list[SeccompStatus] = []
_ZYGOTE_SECCOMP: list[SeccompStatus] = []
_PROCESS_SECCOMP: list[SeccompStatus] = []

# A user namespace would hand the student a full set of capabilities over namespaces of
# their own: nothing more on the host's files, but far more kernel surface to attack.
_CLONE_NEWUSER = 0x10000000
_CLONE_THREAD = 0x00010000


def seccomp_status() -> SeccompStatus:
    """The syscall filter for the full layer, built once per process with pyseccomp.

    Denies ``socket()`` for every family but AF_UNIX, user-namespace creation
    (``unshare``, ``setns``, ``clone(CLONE_NEWUSER)``; ``clone3`` answers ENOSYS so libc
    falls back to ``clone``), io_uring, which could issue socket operations past the
    filter, and the kernel keyrings, which would carry data from one worker to the next.
    Everything else is allowed: the filter is a second wall, the namespaces and the uid are
    the first.
    """
    if not _SECCOMP:
        _SECCOMP.append(_build_seccomp(for_zygote=False))
    return _SECCOMP[0]


def zygote_seccomp_status() -> SeccompStatus:
    """The filter bwrap puts on the full layer's zygote, under each worker's own filter.

    The same, except that ``unshare`` is allowed without CLONE_NEWUSER: a child needs it
    for its private mount, IPC and network namespaces before it installs the full filter.
    """
    if not _ZYGOTE_SECCOMP:
        _ZYGOTE_SECCOMP.append(_build_seccomp(for_zygote=True))
    return _ZYGOTE_SECCOMP[0]


def process_seccomp_status() -> SeccompStatus:
    """The reduced layer's filter: student code starts no process and runs no program.

    Without a pid namespace, a process the student starts (a ``setsid`` + double-fork
    daemon) could outlive the worker and rewrite results after the grader wrote them. So
    ``fork``, ``vfork``, ``clone`` without CLONE_THREAD (threads, which numpy and
    OpenBLAS may use, still start), ``execve`` and ``execveat`` answer EPERM; ``clone3``
    answers ENOSYS, so that libc starts threads with ``clone``. Reaching into another
    process of the same uid (``ptrace``, ``process_vm_readv``/``writev``, ``pidfd_getfd``)
    is denied too: the grader runs as that uid. Installed in the worker just before the
    student's file is imported, after every fork the worker itself needs.
    """
    if not _PROCESS_SECCOMP:
        _PROCESS_SECCOMP.append(_build_process_seccomp())
    return _PROCESS_SECCOMP[0]


def _build_process_seccomp() -> SeccompStatus:
    try:
        seccomp: Any = importlib.import_module("pyseccomp")
    except Exception as exc:  # ImportError, or OSError when libseccomp is missing
        return SeccompStatus(None, f"pyseccomp not available ({type(exc).__name__}: {exc})")
    try:
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        denied = ["fork", "vfork", "execve", "execveat", "ptrace"]
        denied += ["process_vm_readv", "process_vm_writev", "pidfd_getfd"]
        for name in denied:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        not_thread = seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, 0)
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", not_thread)
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        with tempfile.TemporaryFile() as out:
            rules.export_bpf(out)
            out.seek(0)
            program = out.read()
    except Exception as exc:
        return SeccompStatus(None, f"pyseccomp could not build the filter ({exc})")
    return SeccompStatus(program, "no new processes or programs (fork, clone, exec denied)")


def _build_seccomp(*, for_zygote: bool) -> SeccompStatus:
    try:
        seccomp: Any = importlib.import_module("pyseccomp")
    except Exception as exc:  # ImportError, or OSError when libseccomp is missing
        return SeccompStatus(None, f"pyseccomp not available ({type(exc).__name__}: {exc})")
    try:
        import socket

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        rules.add_rule(
            seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX)
        )
        newuser = seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_NEWUSER, _CLONE_NEWUSER)
        denied = ["setns", "io_uring_setup", "io_uring_enter", "io_uring_register"]
        # Kernel keyrings are not namespaced here: a key added to a slot uid's user keyring
        # would outlive the worker and be readable by the next submission given that uid.
        denied += ["add_key", "request_key", "keyctl"]
        if for_zygote:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), "unshare", newuser)
        else:
            denied.append("unshare")
        for name in denied:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", newuser)
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        with tempfile.TemporaryFile() as out:
            rules.export_bpf(out)
            out.seek(0)
            program = out.read()
    except Exception as exc:
        return SeccompStatus(None, f"pyseccomp could not build the filter ({exc})")
    return SeccompStatus(program, "socket() (except AF_UNIX) and user namespaces denied")

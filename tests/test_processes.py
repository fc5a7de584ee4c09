"""Finding a sandbox uid's processes through /proc (propgrade.sandbox.processes)."""

from __future__ import annotations

import ctypes
import os
import signal

import pytest

from propgrade.sandbox import processes

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="setting other uids needs root")

REAL, EFFECTIVE, SAVED = 64990, 64991, 64992


def _child_with_uids(dumpable: bool) -> int:
    """A child whose real, effective and saved uids differ, waiting to be killed."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            if not dumpable:
                ctypes.CDLL(None).prctl(4, 0)  # PR_SET_DUMPABLE 0: /proc shows it as root's
            os.setresuid(REAL, EFFECTIVE, SAVED)
            os.write(write_end, b"x")
            signal.pause()
        finally:
            os._exit(0)
    os.close(write_end)
    assert os.read(read_end, 1) == b"x"
    os.close(read_end)
    return pid


@pytest.mark.parametrize("dumpable", [True, False])
def test_a_process_is_found_by_each_of_its_uids_and_by_no_other(dumpable: bool) -> None:
    pid = _child_with_uids(dumpable)
    try:
        for uid in (REAL, EFFECTIVE, SAVED):  # EFFECTIVE is also the fs uid
            assert pid in processes.processes_of_uid(uid), uid
        assert processes.processes_of_uid_among([pid], SAVED + 1) == []
        assert processes.processes_of_uid_among([pid], 4991) == []  # a suffix of a uid
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert processes.processes_of_uid_among([pid], REAL) == []  # gone: no status to read

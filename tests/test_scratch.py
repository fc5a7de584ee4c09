"""Scratch folders a killed grader left behind are removed by the next run, and only those."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from propgrade.sandbox import scratch

OLD = time.time() - 2 * scratch.GRACE_SECONDS


def _age(path: Path) -> None:
    os.utime(path, (OLD, OLD))


@pytest.fixture
def tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    return tmp_path


def test_an_abandoned_folder_is_removed_a_held_one_is_not(tmp_dir: Path) -> None:
    held = scratch.make("zygote")
    (held / "w-1").mkdir()
    _age(held)
    # A grader killed with SIGKILL: its folder outlives it, and its lock dies with it.
    code = (
        "import os, signal\n"
        "from propgrade.sandbox import scratch\n"
        "path = scratch.make('worker')\n"
        "(path / 'losses.py').write_text('x = 1')\n"
        "print(path, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_dir)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == -9
    orphan = Path(proc.stdout.strip())
    assert orphan.parent == tmp_dir and orphan.is_dir()
    _age(orphan)
    fresh_orphan = tmp_dir / "propgrade-worker-fresh"  # just made by another grader
    fresh_orphan.mkdir()
    unrelated = tmp_dir / "someone-else"
    unrelated.mkdir()
    _age(unrelated)

    assert scratch.sweep() == [orphan]
    assert not orphan.exists()
    assert held.is_dir() and fresh_orphan.is_dir() and unrelated.is_dir()

    scratch.remove(held)
    assert not held.exists()


def test_a_folder_held_by_a_forked_child_is_kept(tmp_dir: Path) -> None:
    path = scratch.make("worker")
    _age(path)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child only holds the lock and waits
        scratch._held.clear()  # the child forgets the descriptor but keeps it open
        time.sleep(5)
        os._exit(0)
    try:
        os.close(scratch._held.pop(str(path)))  # the parent lets go
        assert scratch.sweep() == []  # the forked child still holds it
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)
    assert scratch.sweep() == [path]

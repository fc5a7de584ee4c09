"""Flagging code that fights the grader for review by hand (engine/review.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from propgrade.engine.review import review_reasons

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = Path(__file__).parent / "submissions"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import sys\nf = sys._getframe()\n", "`_getframe`: reads the interpreter's frames"),
        ("import sys\nsys.settrace(None)\n", "`settrace`: touches the tracing machinery"),
        (
            'import sys\nsetattr(sys._getframe(), "f_" + "trace_lines", False)\n',
            "`f_trace` spelt in pieces: touches the tracing machinery",
        ),
        (
            'import sys\nget = getattr(sys, "_get" + "frame")\n',
            "`_getframe` spelt in pieces: reads the interpreter's frames",
        ),
        (
            'import sys\nname = "".join(["set", "pro", "file"])\n',
            "`setprofile` spelt in pieces: touches the profiling machinery",
        ),
        (
            'import sys\nname = "emarfteg_"[::-1]\n',
            "`_getframe` spelt in pieces: reads the interpreter's frames",
        ),
        (
            "import sys\nname = chr(95) + 'getframe'\ngetattr(sys, name)()\n",
            "reaches an attribute of `sys` by a computed name",
        ),
        ("import gc\ngc.get_referrers(1)\n", "`get_referrers`: searches memory through"),
        ("import inspect\ninspect.currentframe()\n", "`currentframe`: reads the interpreter's"),
        ("import threading\n", "imports `threading`: starts threads"),
        ("from concurrent.futures import ThreadPoolExecutor\n", "imports `concurrent`"),
    ],
)
def test_code_that_reaches_frames_tracing_or_threads_is_flagged(source: str, expected: str) -> None:
    reasons = review_reasons(source.encode())
    assert any(reason.startswith(expected) for reason in reasons), reasons


def test_ordinary_code_is_not_flagged() -> None:
    corpus = sorted(SUBMISSIONS.glob("*/[!h]*/*.py")) + sorted((ROOT / "solutions").rglob("*.py"))
    assert len(corpus) > 60
    flagged = {str(p): review_reasons(p.read_bytes()) for p in corpus}
    assert {p: r for p, r in flagged.items() if r} == {}


def test_a_file_that_does_not_parse_is_still_scanned_as_text() -> None:
    assert review_reasons(b"def f(:\n    sys.settrace(None)\n")
    assert review_reasons(b"(" * 100_000) == []

"""Shared fixtures and the suite's tiers.

Tiers: a test marked with one of the slow kinds (``sandbox``, ``nbgrader``, ``browser``,
``dask``, ``selftest``) is also marked ``slow``, so ``pytest -m "not slow"`` is the quick
inner loop and plain ``pytest`` (what CI runs) is everything.

A test that needs something a machine may lack (bubblewrap and root for the full sandbox
layer, Chromium, nbgrader, Dask) skips with a reason that starts with ``MISSING``. On a
laptop that is a skip; in CI (``CI=true``) it is a failure, so a CI image that lost a tool
cannot pass by testing less.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from propgrade.sandbox import layer_choice, wire
from propgrade.sandbox.calls import Call

ROOT = Path(__file__).resolve().parent.parent

SLOW_KINDS = ("sandbox", "nbgrader", "browser", "dask", "selftest")

MISSING = "missing here: "  # a skip reason with this prefix fails the test in CI
_IMPORT_SKIP = "could not import"  # pytest.importorskip's own reason

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@functools.cache
def full_layer_missing() -> str:
    """Why the full sandbox layer cannot run on this machine, or "" when it can."""
    if shutil.which("bwrap") is None:
        return "bwrap (bubblewrap) is not installed"
    if os.geteuid() != 0:
        return "the full sandbox needs root to drop workers to their own uid"
    probe = layer_choice.probe_full_layer()
    return "" if probe.ok else f"bwrap does not work here: {probe.detail}"


def skip_without_full_layer() -> None:
    """Skip the running test (a failure in CI) when the full layer cannot run here."""
    if missing := full_layer_missing():
        pytest.skip(f"{MISSING}{missing}")


@pytest.fixture(scope="session")
def full_layer() -> None:
    """Skips (fails in CI) a test that needs the full layer where it cannot run."""
    skip_without_full_layer()


# Asks only when a selected test needs it: probing starts bwrap.
needs_full = pytest.mark.usefixtures("full_layer")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


# -- tiny courses ------------------------------------------------------------------------


TinyCourse = Callable[[Path, Mapping[str, str]], Path]


def write_tiny_course(base: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (path relative to ``base`` -> text) and return ``base``.

    A course is ``grading.yaml``, its graders, maybe a solution and a class of students'
    folders; every folder holding a ``test_*.py`` grader also gets the ``__init__.py`` that
    makes it a package, as ``propgrade new`` writes it.
    """
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if path.name.startswith("test_"):
            (path.parent / "__init__.py").touch()
    return base


@pytest.fixture(scope="session")
def tiny_course() -> TinyCourse:
    """``write_tiny_course``, for the module-scoped course fixtures of the engine tests."""
    return write_tiny_course


# -- tiers ---------------------------------------------------------------------------------


@pytest.fixture
def encoded_calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every call encoded for a worker from now on, in order."""
    encoded: list[Call] = []
    real = wire.encode_call_fields

    def counted(call: Call, table: wire.BlobTable) -> dict[str, object]:
        encoded.append(call)
        return real(call, table)

    monkeypatch.setattr(wire, "encode_call_fields", counted)
    return encoded


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(kind) for kind in SLOW_KINDS):
            item.add_marker(pytest.mark.slow)


# -- in CI, a missing tool is a failure ------------------------------------------------------


def _skip_reason(report: Any) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _fail_missing_in_ci(report: Any) -> None:
    if not (IN_CI and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if MISSING in reason or _IMPORT_SKIP in reason:
        report.outcome = "failed"
        report.longrepr = f"CI=true, and a test needs what is missing here: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    _fail_missing_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    outcome = yield
    _fail_missing_in_ci(outcome.get_result())

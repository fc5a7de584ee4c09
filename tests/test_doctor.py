"""``propgrade doctor`` tells the truth with bubblewrap and without it."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from conftest import needs_full

from propgrade import doctor
from propgrade.cli import main
from propgrade.errors import WorkerError
from propgrade.sandbox import layer_choice

_real_which = shutil.which


@pytest.fixture(autouse=True)
def _no_forced_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(layer_choice.SANDBOX_ENV, raising=False)


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine like this one, minus bubblewrap."""

    def which(name: str, mode: int = os.F_OK | os.X_OK, path: str | None = None) -> str | None:
        return None if name == "bwrap" else _real_which(name, mode, path)

    monkeypatch.setattr(shutil, "which", which)


@needs_full
def test_with_bwrap_the_full_layer_is_active_and_every_row_says_so() -> None:
    report = doctor.diagnose()
    assert report.layer == "full" and report.ok and report.error is None
    assert "bubblewrap" in report.description
    for name in ("bwrap found", "setpriv found", "running as root", doctor.NAMESPACE_CHECK):
        assert report.check(name).ok, report.check(name)
    assert report.check("bwrap found").detail.startswith(f"at {_real_which('bwrap')}")
    assert report.check("can drop to uid").ok
    numpy = report.check(doctor.NUMPY_CHECK)
    assert numpy.ok and "full layer" in numpy.detail
    uid = int(numpy.detail.split(" as uid ")[1].split()[0])
    assert uid >= 1000  # never root, never the grader's own uid
    assert not any("apt-get install bubblewrap" in item for item in report.advice)
    # pyseccomp is optional: only its row may fail.
    assert all(row.ok for row in report.checks if row.name != doctor.SECCOMP_CHECK)
    assert doctor.render(report).startswith("sandbox layer: full\n")


def test_without_bwrap_the_reduced_layer_is_active_and_advice_says_how_to_fix(
    no_bwrap: None,
) -> None:
    report = doctor.diagnose()
    assert report.layer == "reduced" and report.ok
    assert "file reads are NOT prevented" in report.description
    bwrap = report.check("bwrap found")
    assert not bwrap.ok and "no bwrap" in bwrap.detail
    assert not report.check(doctor.NAMESPACE_CHECK).ok
    assert not report.check("can drop to uid").ok
    assert report.check(doctor.NUMPY_CHECK).ok
    assert "reduced layer" in report.check(doctor.NUMPY_CHECK).detail
    assert any("apt-get install bubblewrap" in item for item in report.advice)
    text = doctor.render(report)
    assert "sandbox layer: reduced" in text and "[FAIL] bwrap found" in text
    assert "apt-get install bubblewrap" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_without_bwrap_forcing_full_is_an_error_with_a_hint(
    no_bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(layer_choice.SANDBOX_ENV, "full")
    with pytest.raises(WorkerError) as raised:
        layer_choice.default_layer()
    assert "PROPGRADE_SANDBOX=full" in raised.value.message
    assert raised.value.hint is not None and "apt-get install bubblewrap" in raised.value.hint
    report = doctor.diagnose()
    assert report.layer == "none" and not report.ok
    assert report.error is not None and "bwrap" in report.error
    assert "error: PROPGRADE_SANDBOX=full" in doctor.render(report)


def test_a_grader_that_is_not_root_gets_the_reduced_layer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    report = doctor.diagnose()
    assert report.layer == "reduced"
    assert not report.check("running as root").ok
    assert not report.check("can drop to uid").ok
    assert any("as root" in item for item in report.advice)


def test_forcing_reduced_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(layer_choice.SANDBOX_ENV, "reduced")
    report = doctor.diagnose()
    assert report.layer == "reduced"
    assert report.check(f"{layer_choice.SANDBOX_ENV} set").detail == "'reduced'"


def test_an_unknown_layer_name_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(layer_choice.SANDBOX_ENV, "strict")
    with pytest.raises(WorkerError, match="'strict' is not a sandbox layer"):
        layer_choice.default_layer()


# -- the exit status of `propgrade doctor`, for each layer forced in turn --------------------


def _doctor_cli() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(["doctor"], out=out, err=err), out.getvalue()


@needs_full
def test_doctor_exits_0_on_the_full_layer() -> None:
    code, out = _doctor_cli()
    assert out.startswith("sandbox layer: full\n") and code == 0


def test_doctor_exits_1_on_the_reduced_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(layer_choice.SANDBOX_ENV, "reduced")
    code, out = _doctor_cli()
    assert out.startswith("sandbox layer: reduced\n") and code == 1


def test_doctor_exits_1_without_bwrap(no_bwrap: None) -> None:
    code, out = _doctor_cli()
    assert out.startswith("sandbox layer: reduced\n") and code == 1


def test_doctor_exits_1_when_no_layer_can_be_used(
    no_bwrap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(layer_choice.SANDBOX_ENV, "full")
    code, out = _doctor_cli()
    assert "error: PROPGRADE_SANDBOX=full" in out and code == 1

"""The optimizers' hostile submissions, graded as one class under each sandbox layer.

Every folder under ``tests/submissions/optimizers/hostile/`` is an ``optim.py`` whose
author tries to gain points without doing the work (or to swamp the grader); its
docstring says how and what is expected. The whole corpus and the correct reference are
graded in one ``propgrade grade`` batch per layer. The memory attacks are also measured
on their own in ``test_hostile_memory.py``.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import skip_without_full_layer

from propgrade.cli import main
from propgrade.config import load_course
from propgrade.sandbox import layer_choice, layers

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = Path(__file__).parent / "submissions" / "optimizers" / "hostile"
ASSIGNMENT = "optimizers"
RULES = ("sgd", "momentum", "rmsprop", "adam")
CHECK_IDS = tuple(c.id for c in load_course(ROOT / "grading.yaml").assignment(ASSIGNMENT).checks)
LOOP_CHECKS = frozenset(f"{rule}_no_per_element_loop" for rule in RULES)
EVERY_CHECK = frozenset(CHECK_IDS)

# attack -> (the checks it must fail, and no other; evidence in its stored result;
# whether it is flagged for review by hand)
EXPECTED: dict[str, tuple[frozenset[str], tuple[str, ...], bool]] = {
    "memory_config_hoard": (
        EVERY_CHECK,
        ("returned more data than the grader accepts", "2.0 MiB of data"),
        False,
    ),
    "trace_memo_dummy": (
        LOOP_CHECKS,
        ("counted: answering with a dummy", "returned a different result while its Python"),
        True,
    ),
    "trace_lines_off": (
        LOOP_CHECKS,
        ("more Python line/call events for 64 elements", "could not be measured"),
        True,
    ),
    "trace_thread_loop": (
        LOOP_CHECKS,
        ("student code may not start threads",),
        True,
    ),
}


def test_every_hostile_folder_is_expected_and_documented() -> None:
    folders = sorted(p.name for p in HOSTILE.iterdir() if p.is_dir())
    assert folders == sorted(EXPECTED)
    for name in folders:
        text = (HOSTILE / name / "optim.py").read_text()
        assert text.startswith(f'"""Hostile submission ``{name}``'), name


@pytest.fixture(scope="module", params=[layers.FULL, layers.REDUCED])
def graded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    layer = request.param
    if layer == layers.FULL:
        skip_without_full_layer()
    base = tmp_path_factory.mktemp(f"hostile-optimizers-{layer}")
    klass = base / "class"
    for name in EXPECTED:
        (klass / name).mkdir(parents=True)
        shutil.copyfile(HOSTILE / name / "optim.py", klass / name / "optim.py")
    (klass / "correct").mkdir()
    shutil.copyfile(ROOT / "solutions" / ASSIGNMENT / "optim.py", klass / "correct" / "optim.py")
    config = yaml.safe_load((ROOT / "grading.yaml").read_text())
    spec = config["assignments"][ASSIGNMENT]
    for key in ("solution", "release", "graders"):
        spec[key] = str(ROOT / spec[key])
    (base / "grading.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    out, stdout, stderr = base / "out", io.StringIO(), io.StringIO()
    argv = ["grade", str(klass), "-a", ASSIGNMENT, "-o", str(out), "-j", "2", "--allow-reduced"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(layer_choice.SANDBOX_ENV, layer)
        code = main([*argv, "-c", str(base / "grading.yaml")], out=stdout, err=stderr)
    assert code == 0, stderr.getvalue()[-3000:]
    assert f"sandbox: {layer}:" in stderr.getvalue()
    return out, stdout.getvalue()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_attack_fails_exactly_its_checks_and_is_flagged_as_expected(
    name: str, graded: tuple[Path, str]
) -> None:
    out, table = graded
    must_fail, evidence, flagged = EXPECTED[name]
    record = json.loads((out / name / "propgrade.json").read_text())
    failed = {c["id"] for c in record["checks"] if c["status"] != "passed"}
    assert failed == must_fail
    assert "internal_error" not in record["meta"]
    stored = json.dumps(record)
    for text in evidence:
        assert text in stored, f"no sign that the attack ran: {text!r}"
    results = json.loads((out / name / "results.json").read_text())
    assert results["extra_data"]["propgrade"]["review_by_hand"] is flagged
    line = next(row for row in table.splitlines() if row.startswith(name + " "))
    assert ("REVIEW BY HAND" in line) is flagged
    assert (f"{name}</a> (" in (out / "report.html").read_text()) is flagged


def test_the_correct_classmate_gets_full_marks_and_no_flag(graded: tuple[Path, str]) -> None:
    out, _ = graded
    record = json.loads((out / "correct" / "propgrade.json").read_text())
    assert all(c["status"] == "passed" for c in record["checks"])
    assert "review" not in record["meta"]

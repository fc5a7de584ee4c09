from __future__ import annotations

from pathlib import Path

import pytest

from propgrade.config import find_course_config, load_course
from propgrade.errors import ConfigError

GOOD = """
assignments:
  hw:
    graders: graders/hw
    solution: solutions/hw
    graded_file: losses.py
    functions: [f, g]
    hypothesis: {seed: 3, max_examples: 7}
    limits: {call_seconds: 2, memory_mb: 512}
    checks:
      f_ok: {points: 2, visibility: hidden}
      g_ok: 1.5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "grading.yaml"
    path.write_text(text)
    return path


def test_loads_a_valid_course(tmp_path: Path) -> None:
    course = load_course(write(tmp_path, GOOD))
    hw = course.assignment("hw")
    assert hw.functions == ("f", "g")
    assert hw.graders == (tmp_path / "graders/hw").resolve()
    assert hw.reference_file == (tmp_path / "solutions/hw/losses.py").resolve()
    assert hw.hypothesis.seed == 3 and hw.hypothesis.max_examples == 7
    assert hw.limits.call_seconds == 2 and hw.limits.memory_mb == 512
    assert hw.limits.reply_bytes == 64 * 1024 and hw.limits.grader_memory_mb == 4096
    assert [(c.id, c.points, c.visibility) for c in hw.checks] == [
        ("f_ok", 2.0, "hidden"),
        ("g_ok", 1.5, "visible"),
    ]
    assert hw.max_score == 3.5
    assert len(hw.digest) == 16


def test_digest_changes_with_the_config(tmp_path: Path) -> None:
    a = load_course(write(tmp_path, GOOD)).assignment("hw").digest
    b = load_course(write(tmp_path, GOOD.replace("seed: 3", "seed: 4"))).assignment("hw").digest
    assert a != b


@pytest.mark.parametrize(
    ("old", "new", "key_path", "hint"),
    [
        ("graded_file:", "graded_fille:", "assignments.hw.graded_fille", "graded_file"),
        ("{seed: 3", "{sed: 3", "assignments.hw.hypothesis.sed", "seed"),
        ("{points: 2", "{pionts: 2", "assignments.hw.checks.f_ok.pionts", "points"),
    ],
)
def test_unknown_key_names_file_path_and_nearest_key(
    tmp_path: Path, old: str, new: str, key_path: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_course(write(tmp_path, GOOD.replace(old, new, 1)))
    assert str(tmp_path / "grading.yaml") in info.value.message
    assert f"{key_path}: unknown key" in info.value.message
    assert info.value.hint == f"did you mean {hint!r}?"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (("points: 2", "points: two"), "assignments.hw.checks.f_ok.points: expected a number"),
        (("visibility: hidden", "visibility: secret"), "unknown visibility 'secret'"),
        (("seed: 3", "seed: -1"), "assignments.hw.hypothesis.seed: must be at least 0"),
        (("functions: [f, g]", "functions: f"), "assignments.hw.functions"),
        (("graded_file: losses.py", "graded_file: losses"), "graded_file"),
        (("call_seconds: 2", "call_seconds: 0"), "call_seconds: must be greater than 0"),
        (
            ("memory_mb: 512", "memory_mb: 512, grader_memory_mb: 100"),
            "assignments.hw.limits.grader_memory_mb: must be at least 1024",
        ),
        (("memory_mb: 512", "memory_mb: 512, reply_kb: 0"), "limits.reply_kb: must be at least 1"),
    ],
)
def test_bad_values_are_reported_with_their_key(
    tmp_path: Path, change: tuple[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=r"grading\.yaml") as info:
        load_course(write(tmp_path, GOOD.replace(*change)))
    assert fragment in info.value.message


def test_missing_required_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"assignments\.hw\.checks: required key is missing"):
        load_course(write(tmp_path, GOOD.split("    checks:")[0]))


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid YAML \(line \d+"):
        load_course(write(tmp_path, "assignments:\n  hw: [unclosed\n"))


def test_missing_file_has_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_course(tmp_path / "grading.yaml")
    assert "file not found" in info.value.message
    assert info.value.hint


def test_unknown_assignment_suggests_the_nearest(tmp_path: Path) -> None:
    course = load_course(write(tmp_path, GOOD))
    with pytest.raises(ConfigError) as info:
        course.assignment("hW")
    assert info.value.hint == "did you mean 'hw'?"


def test_find_course_config_walks_up(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_course_config(nested) == path


def test_the_repository_course_file_is_valid(root: Path) -> None:
    course = load_course(root / "grading.yaml")
    assert "linear_classifiers" in course.assignments


def test_requires_takes_one_check_id_or_a_list_of_earlier_ones(tmp_path: Path) -> None:
    text = GOOD.replace(
        "      g_ok: 1.5\n",
        "      g_ok: {points: 1.5, requires: f_ok}\n"
        "      h_ok: {points: 1, requires: [f_ok, g_ok]}\n",
    )
    hw = load_course(write(tmp_path, text)).assignment("hw")
    assert [c.requires for c in hw.checks] == [(), ("f_ok",), ("f_ok", "g_ok")]


@pytest.mark.parametrize(
    ("requires", "message", "hint"),
    [
        ("f_okk", "'f_okk' is not a check listed above this one", "did you mean 'f_ok'?"),
        # only earlier checks: a cycle cannot be written down
        ("g_ok", "'g_ok' is not a check listed above this one", "did you mean 'f_ok'?"),
        ("{a: 1}", "expected a check id or a list of check ids", None),
    ],
)
def test_requires_names_the_bad_entry(
    tmp_path: Path, requires: str, message: str, hint: str | None
) -> None:
    text = GOOD.replace("      g_ok: 1.5\n", f"      g_ok: {{points: 1.5, requires: {requires}}}\n")
    with pytest.raises(ConfigError) as info:
        load_course(write(tmp_path, text))
    assert "assignments.hw.checks.g_ok.requires" in info.value.message
    assert message in info.value.message
    if hint:
        assert info.value.hint == hint

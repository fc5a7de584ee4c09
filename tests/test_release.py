from __future__ import annotations

import ast
from pathlib import Path

import pytest

from propgrade.authoring.release import BEGIN, END, strip_solutions
from propgrade.cli import main
from propgrade.config import load_course, load_released
from propgrade.errors import ReleaseError

SOURCE = f'''import numpy as np


def f(x):
    """Square x."""
    {BEGIN}
    secret = x * x
    return secret
    {END}


class K:
    def g(self):
        {BEGIN}
        return 1
        {END}
'''


def test_strip_replaces_each_region_with_a_stub() -> None:
    out = strip_solutions(SOURCE, Path("s.py"))
    assert "secret" not in out and "return 1" not in out
    assert BEGIN not in out and END not in out
    assert 'raise NotImplementedError("TODO: implement f")' in out
    assert 'raise NotImplementedError("TODO: implement g")' in out
    assert '"""Square x."""' in out
    ast.parse(out)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"def f():\n    {BEGIN}\n    pass\n", "never closed"),
        (f"def f():\n    pass\n    {END}\n", "without a matching"),
        (f"def f():\n    {BEGIN}\n    {BEGIN}\n    {END}\n", "inside the region opened at line 2"),
    ],
)
def test_unbalanced_markers_are_errors_with_line_numbers(text: str, message: str) -> None:
    with pytest.raises(ReleaseError, match=message):
        strip_solutions(text, Path("s.py"))


def _solution_lines(solution: Path) -> set[str]:
    """Every non-trivial line inside a solution region."""
    lines: set[str] = set()
    inside = False
    for line in solution.read_text().splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
            lines.add(line.strip())
    return lines


ASSIGNMENTS = list(load_course(Path(__file__).resolve().parent.parent / "grading.yaml").assignments)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_contains_no_solution_code_and_no_hidden_check(
    root: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "release"
    assert main(["release", name, "--config", str(root / "grading.yaml"), "--out", str(out)]) == 0
    course = load_course(root / "grading.yaml").assignment(name)
    assert course.solution is not None
    secret_lines = _solution_lines(course.solution / course.graded_file)
    assert len(secret_lines) > 10
    released_text = "\n".join(
        # Bytes decoded leniently: the release also holds binary data (digits.npz).
        p.read_bytes().decode("utf-8", "replace")
        for p in out.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    # A line the instructor also wrote in the public checks (`if config is None:`) is
    # released on purpose, not leaked from the solution.
    public = "\n".join(
        p.read_text() for p in course.graders.glob("*.py") if not p.name.startswith("test_hidden")
    )
    leaked = [line for line in secret_lines if line in released_text and line not in public]
    assert leaked == []
    assert not list(out.rglob("test_hidden*"))
    released = load_released(out)
    hidden_ids = {c.id for c in course.checks} - {c.id for c in released.checks}
    assert hidden_ids and all("reference" in cid for cid in hidden_ids)
    for cid in hidden_ids:
        assert cid not in released_text
    stub = (out / course.graded_file).read_text()
    for fn in course.functions:
        assert f'raise NotImplementedError("TODO: implement {fn}")' in stub


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_committed_release_is_the_output_of_release(root: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "release"
    main(["release", name, "--config", str(root / "grading.yaml"), "--out", str(out)])
    committed = root / "assignments" / name

    def files(base: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(base)): p.read_bytes()
            for p in base.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }

    assert files(committed) == files(out), f"run `propgrade release {name}`"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_stub_fixture_is_the_committed_release_stub(root: Path, name: str) -> None:
    course = load_course(root / "grading.yaml").assignment(name)
    fixture = course.fixtures_dir / "stub" / course.graded_file
    if not fixture.is_file():
        pytest.skip(f"{name} has no stub/ fixture")
    released = root / "assignments" / name / course.graded_file
    assert fixture.read_bytes() == released.read_bytes(), f"run `propgrade release {name}`"

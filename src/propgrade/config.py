"""Loading and validating grading.yaml, the course file.

Every problem is reported as a ``ConfigError`` naming the file, the key path and, for a
misspelt key, the nearest valid one: a course file is edited by hand, under time pressure.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from propgrade.errors import ConfigError
from propgrade.sandbox.calls import Limits

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
CONFIG_NAME = "grading.yaml"
RELEASED_CONFIG_NAME = "assignment.yaml"


@dataclass(frozen=True)
class CheckConfig:
    id: str
    points: float
    visibility: str = "visible"
    max_examples: int | None = None
    # Checks that must pass before this one counts: a property that trivial code also
    # satisfies earns its points only once the function is shown to do the work.
    requires: tuple[str, ...] = ()
    # Replaces the hint the grader declares with the check ("" keeps the grader's).
    hint: str = ""


@dataclass(frozen=True)
class HypothesisConfig:
    seed: int = 0
    max_examples: int = 20


@dataclass(frozen=True)
class SelftestConfig:
    """How strong ``propgrade selftest`` requires the assignment's checks to be."""

    mutation_threshold: float = 0.95  # killed / non-equivalent mutants, at least
    baseline_limit: float = 0.05  # the most a stub, ``pass`` or zeros body may score
    equivalence_inputs: int = 48  # random inputs per function for the equivalence test
    # Mutant id -> why it is accepted (an equivalent the random inputs cannot tell apart).
    accepted: Mapping[str, str] = field(default_factory=dict)
    # Function -> the expression its zeros baseline returns, when the docstring does not say.
    zero_returns: Mapping[str, str] = field(default_factory=dict)
    # The fixture corpus and the hand-written mutants, relative to the course file; None
    # means the defaults, tests/submissions/NAME and tests/mutants/NAME.
    fixtures: str | None = None
    mutants: str | None = None


UNKNOWN_TIME_FLAG = "flag"
UNKNOWN_TIME_ON_TIME = "on_time"
UNKNOWN_TIME_LATE = "late"
UNKNOWN_TIME_CHOICES = (UNKNOWN_TIME_FLAG, UNKNOWN_TIME_ON_TIME, UNKNOWN_TIME_LATE)


@dataclass(frozen=True)
class LatePolicy:
    """A late submission loses ``per_day`` of its score for every started day past the due
    date; one more than ``max_days`` days late is not accepted (the whole score is lost).

    ``unknown_time`` decides a submission whose time cannot be known: ``flag`` (graded as
    on time, and the instructor is warned), ``on_time`` (silently) or ``late`` (as past
    the last accepted day)."""

    per_day: float
    max_days: int
    unknown_time: str = UNKNOWN_TIME_FLAG


COUNTS_LATEST = "latest"
COUNTS_BEST = "best"


@dataclass(frozen=True)
class ServeConfig:
    """How ``propgrade serve`` takes this assignment's submissions."""

    # Attempts one student may make in any hour; None: no limit.
    attempts_per_hour: int | None = None
    # Which graded attempt counts for the grade: the latest or the best.
    counts: str = COUNTS_LATEST


@dataclass(frozen=True)
class AssignmentConfig:
    name: str
    root: Path  # the directory that relative paths are resolved against
    graded_file: str
    functions: tuple[str, ...]
    graders: Path
    solution: Path | None
    release: Path | None
    hypothesis: HypothesisConfig
    limits: Limits
    checks: tuple[CheckConfig, ...]
    source: Path = field(compare=False)  # the YAML file, for messages
    digest: str = ""  # hash of the assignment's config, recorded with every result
    due: datetime | None = None  # timezone-aware
    late_policy: LatePolicy | None = None
    selftest: SelftestConfig = field(default_factory=SelftestConfig)
    # sha256 of the released stub of graded_file: a graded file identical to it counts as
    # not submitted (intake/submission.py). From the release folder, or written into a
    # released assignment.yaml; None when neither is there.
    stub_sha256: str | None = None
    serve: ServeConfig = field(default_factory=ServeConfig)

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def check(self, check_id: str) -> CheckConfig:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    @property
    def fixtures_dir(self) -> Path:
        """The fixture corpus: one folder per submission, each with its expect.yaml."""
        return self.root / (self.selftest.fixtures or f"tests/submissions/{self.name}")

    @property
    def mutants_dir(self) -> Path:
        """Hand-written wrong versions of the graded file, one file per mutant."""
        return self.root / (self.selftest.mutants or f"tests/mutants/{self.name}")

    @property
    def reference_file(self) -> Path | None:
        return None if self.solution is None else self.solution / self.graded_file


@dataclass(frozen=True)
class CourseConfig:
    source: Path
    assignments: Mapping[str, AssignmentConfig]

    def assignment(self, name: str) -> AssignmentConfig:
        try:
            return self.assignments[name]
        except KeyError:
            raise ConfigError(
                f"{self.source}: no assignment named {name!r}",
                hint=_suggest(name, list(self.assignments))
                or f"defined assignments: {', '.join(sorted(self.assignments)) or 'none'}",
            ) from None


class _Reader:
    """Walks a parsed YAML tree, remembering the key path for error messages."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, path: str, message: str, hint: str | None = None) -> ConfigError:
        where = f"{self.source}: {path}: " if path else f"{self.source}: "
        return ConfigError(where + message, hint=hint)

    def mapping(self, value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"keys must be strings, got {key!r}")
        return value

    def keys(self, value: dict[str, Any], path: str, allowed: set[str], required: set[str]) -> None:
        for key in value:
            if key not in allowed:
                raise self.fail(_join(path, key), "unknown key", _suggest(key, sorted(allowed)))
        for key in sorted(required):
            if key not in value:
                raise self.fail(_join(path, key), "required key is missing")

    def string(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"expected a non-empty string, got {_kind(value)}")
        return value

    def integer(self, value: object, path: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected an integer, got {_kind(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(path, f"must be at least {minimum}, got {value}")
        return value

    def number(self, value: object, path: str, positive: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"expected a number, got {_kind(value)}")
        if positive and value <= 0:
            raise self.fail(path, f"must be greater than 0, got {value}")
        if value < 0:
            raise self.fail(path, f"must not be negative, got {value}")
        return float(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"[:80]


def _suggest(word: str, options: list[str]) -> str | None:
    lowered = {o.lower(): o for o in options}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean {lowered[close[0]]!r}?" if close else None


# The keys of an assignment's `limits:` (docs/api/limits.rst documents each one).
LIMIT_KEYS = (
    "call_seconds",
    "submission_seconds",
    "memory_mb",
    "output_kb",
    "file_kb",
    "reply_kb",
    "grader_memory_mb",
)


def _limits(r: _Reader, raw: object, path: str) -> Limits:
    data = r.mapping(raw, path)
    r.keys(data, path, set(LIMIT_KEYS), set())
    base = Limits()
    return Limits(
        call_seconds=r.number(
            data.get("call_seconds", base.call_seconds), _join(path, "call_seconds"), True
        ),
        submission_seconds=r.number(
            data.get("submission_seconds", base.submission_seconds),
            _join(path, "submission_seconds"),
            True,
        ),
        memory_mb=r.integer(data.get("memory_mb", base.memory_mb), _join(path, "memory_mb"), 256),
        output_bytes=1024
        * r.integer(data.get("output_kb", base.output_bytes // 1024), _join(path, "output_kb"), 1),
        file_bytes=1024
        * r.integer(data.get("file_kb", base.file_bytes // 1024), _join(path, "file_kb"), 1),
        reply_bytes=1024
        * r.integer(data.get("reply_kb", base.reply_bytes // 1024), _join(path, "reply_kb"), 1),
        grader_memory_mb=r.integer(
            data.get("grader_memory_mb", base.grader_memory_mb),
            _join(path, "grader_memory_mb"),
            # below this the grader's own Python, numpy and Hypothesis do not start
            1024,
        ),
    )


def _imports(r: _Reader, raw: object, path: str) -> tuple[str, ...]:
    """Top-level packages student code may import besides the standard library."""
    if not isinstance(raw, list):
        raise r.fail(path, f"expected a list of package names, got {_kind(raw)}")
    names = ["numpy"]  # the worker itself needs it, so it is always allowed
    for index, item in enumerate(raw):
        name = r.string(item, f"{path}[{index}]")
        if not name.isidentifier():
            raise r.fail(
                f"{path}[{index}]",
                f"expected the name a package is imported by, got {name!r}",
                "list top-level names, e.g. 'matplotlib' (not 'matplotlib.pyplot')",
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def _hypothesis(r: _Reader, raw: object, path: str) -> HypothesisConfig:
    data = r.mapping(raw, path)
    r.keys(data, path, {"seed", "max_examples"}, set())
    base = HypothesisConfig()
    return HypothesisConfig(
        seed=r.integer(data.get("seed", base.seed), _join(path, "seed"), 0),
        max_examples=r.integer(
            data.get("max_examples", base.max_examples), _join(path, "max_examples"), 1
        ),
    )


def _checks(r: _Reader, raw: object, path: str) -> tuple[CheckConfig, ...]:
    data = r.mapping(raw, path)
    if not data:
        raise r.fail(path, "no checks are listed", "list each check id with its points")
    out: list[CheckConfig] = []
    for check_id, spec in data.items():
        cpath = _join(path, check_id)
        if isinstance(spec, int | float) and not isinstance(spec, bool):
            spec = {"points": spec}
        body = r.mapping(spec, cpath)
        r.keys(
            body, cpath, {"points", "visibility", "max_examples", "requires", "hint"}, {"points"}
        )
        visibility = body.get("visibility", "visible")
        if visibility not in VISIBILITIES:
            raise r.fail(
                _join(cpath, "visibility"),
                f"unknown visibility {visibility!r} (one of {', '.join(VISIBILITIES)})",
                _suggest(str(visibility), list(VISIBILITIES)),
            )
        max_examples = body.get("max_examples")
        out.append(
            CheckConfig(
                id=check_id,
                points=r.number(body["points"], _join(cpath, "points")),
                visibility=visibility,
                max_examples=None
                if max_examples is None
                else r.integer(max_examples, _join(cpath, "max_examples"), 1),
                requires=_requires(r, body.get("requires", []), _join(cpath, "requires"), out),
                hint=_hint(r, body["hint"], _join(cpath, "hint")) if "hint" in body else "",
            )
        )
    return tuple(out)


def _hint(r: _Reader, raw: object, path: str) -> str:
    text = r.string(raw, path).strip()
    if not text:
        raise r.fail(path, "expected a hint for a student who fails this check, got blanks")
    return text


def _requires(r: _Reader, raw: object, path: str, earlier: list[CheckConfig]) -> tuple[str, ...]:
    """Check ids listed above this one: requiring only earlier checks rules out cycles."""
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise r.fail(path, f"expected a check id or a list of check ids, got {_kind(raw)}")
    known = [c.id for c in earlier]
    ids = []
    for i, item in enumerate(items):
        cid = r.string(item, f"{path}[{i}]")
        if cid not in known:
            raise r.fail(
                f"{path}[{i}]",
                f"{cid!r} is not a check listed above this one",
                _suggest(cid, known)
                or "a required check must be listed before the checks that need it",
            )
        ids.append(cid)
    return tuple(ids)


def _due(r: _Reader, raw: object, path: str) -> datetime:
    # YAML reads an unquoted ISO timestamp as a datetime, a quoted one as a string.
    value: object = raw
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise r.fail(
                path,
                f"not a date and time: {raw!r}",
                "write it like 2026-12-01T23:59:00+00:00",
            ) from None
    if not isinstance(value, datetime):
        what = "a date without a time" if isinstance(value, date) else _kind(value)
        raise r.fail(
            path,
            f"expected a date and time with a UTC offset, got {what}",
            "write it like 2026-12-01T23:59:00+00:00",
        )
    if value.tzinfo is None or value.utcoffset() is None:
        # A due date without an offset means different instants on different machines.
        raise r.fail(
            path,
            f"{value.isoformat()} has no UTC offset",
            f"write it like {value.isoformat()}+00:00",
        )
    return value


def _late_policy(r: _Reader, raw: object, path: str) -> LatePolicy:
    data = r.mapping(raw, path)
    r.keys(data, path, {"per_day", "max_days", "unknown_time"}, {"per_day", "max_days"})
    per_day = r.number(data["per_day"], _join(path, "per_day"), True)
    unknown = data.get("unknown_time", UNKNOWN_TIME_FLAG)
    if unknown not in UNKNOWN_TIME_CHOICES:
        raise r.fail(
            _join(path, "unknown_time"),
            f"expected one of {', '.join(UNKNOWN_TIME_CHOICES)}, got {unknown!r}",
            _suggest(str(unknown), list(UNKNOWN_TIME_CHOICES)),
        )
    if per_day > 1:
        raise r.fail(
            _join(path, "per_day"),
            f"is the fraction of the score lost per day late, at most 1, got {per_day}",
            "for 10% per day write 0.1",
        )
    return LatePolicy(
        per_day, r.integer(data["max_days"], _join(path, "max_days"), 0), str(unknown)
    )


def _fraction(r: _Reader, value: object, path: str) -> float:
    number = r.number(value, path)
    if number > 1:
        raise r.fail(path, f"expected a fraction between 0 and 1, got {value}", "5% is 0.05")
    return number


def _string_map(r: _Reader, raw: object, path: str) -> dict[str, str]:
    if isinstance(raw, list):  # a bare list of ids: the reasons live in YAML comments
        return {r.string(item, f"{path}[{i}]"): "" for i, item in enumerate(raw)}
    data = r.mapping(raw, path)
    return {
        key: "" if value is None else r.string(value, _join(path, key))
        for key, value in data.items()
    }


def _selftest(r: _Reader, raw: object, path: str) -> SelftestConfig:
    data = r.mapping(raw, path)
    allowed = {
        "mutation_threshold",
        "baseline_limit",
        "equivalence_inputs",
        "accepted",
        "zero_returns",
        "fixtures",
        "mutants",
    }
    r.keys(data, path, allowed, set())
    base = SelftestConfig()
    return SelftestConfig(
        mutation_threshold=_fraction(
            r,
            data.get("mutation_threshold", base.mutation_threshold),
            _join(path, "mutation_threshold"),
        ),
        baseline_limit=_fraction(
            r, data.get("baseline_limit", base.baseline_limit), _join(path, "baseline_limit")
        ),
        equivalence_inputs=r.integer(
            data.get("equivalence_inputs", base.equivalence_inputs),
            _join(path, "equivalence_inputs"),
            1,
        ),
        accepted=_string_map(r, data.get("accepted", {}), _join(path, "accepted")),
        zero_returns=_string_map(r, data.get("zero_returns", {}), _join(path, "zero_returns")),
        fixtures=_optional_path(r, data.get("fixtures"), _join(path, "fixtures")),
        mutants=_optional_path(r, data.get("mutants"), _join(path, "mutants")),
    )


def _serve(r: _Reader, raw: object, path: str) -> ServeConfig:
    data = r.mapping(raw, path)
    r.keys(data, path, {"attempts_per_hour", "counts"}, set())
    per_hour = data.get("attempts_per_hour")
    counts = data.get("counts", COUNTS_LATEST)
    if counts not in (COUNTS_LATEST, COUNTS_BEST):
        raise r.fail(
            _join(path, "counts"),
            f"expected {COUNTS_LATEST} or {COUNTS_BEST}, got {counts!r}",
            _suggest(str(counts), [COUNTS_LATEST, COUNTS_BEST]),
        )
    return ServeConfig(
        attempts_per_hour=None
        if per_hour is None
        else r.integer(per_hour, _join(path, "attempts_per_hour"), 1),
        counts=str(counts),
    )


def _optional_path(r: _Reader, raw: object, path: str) -> str | None:
    return None if raw is None else r.string(raw, path)


STUB_KEY = "stub_sha256"  # only in a released assignment.yaml
_ASSIGNMENT_KEYS = {
    "imports",
    "due",
    "late_policy",
    "graded_file",
    "functions",
    "graders",
    "solution",
    "release",
    "hypothesis",
    "limits",
    "checks",
    "selftest",
    "serve",
}


def parse_assignment(
    name: str, raw: object, path: str, r: _Reader, root: Path, *, released: bool = False
) -> AssignmentConfig:
    data = r.mapping(raw, path)
    required = {"graded_file", "functions", "checks"} | (set() if released else {"graders"})
    r.keys(data, path, _ASSIGNMENT_KEYS | ({STUB_KEY} if released else set()), required)
    functions = data["functions"]
    if not isinstance(functions, list) or not functions:
        raise r.fail(_join(path, "functions"), "expected a non-empty list of function names")
    names = tuple(r.string(f, f"{_join(path, 'functions')}[{i}]") for i, f in enumerate(functions))
    graded_file = r.string(data["graded_file"], _join(path, "graded_file"))
    if "/" in graded_file or not graded_file.endswith(".py"):
        raise r.fail(
            _join(path, "graded_file"),
            f"expected a Python file name like 'answers.py', got {graded_file!r}",
        )

    def directory(key: str, default: str | None) -> Path | None:
        value = data.get(key, default)
        if value is None:
            return None
        return (root / r.string(value, _join(path, key))).resolve()

    graders = directory("graders", "checks")
    assert graders is not None
    if "late_policy" in data and "due" not in data:
        raise r.fail(
            _join(path, "late_policy"),
            "a late policy needs a due date",
            "add 'due: 2026-12-01T23:59:00+00:00' to the assignment",
        )
    # How the service takes submissions does not change a grade: not in the digest.
    graded = {k: v for k, v in data.items() if k != "serve"}
    digest = hashlib.sha256(yaml.safe_dump({name: graded}, sort_keys=True).encode()).hexdigest()
    release = directory("release", None)
    if STUB_KEY in data:
        stub: str | None = r.string(data[STUB_KEY], _join(path, STUB_KEY))
    else:
        stub = _file_sha256(release / graded_file) if release is not None else None
    return AssignmentConfig(
        name=name,
        root=root,
        graded_file=graded_file,
        functions=names,
        graders=graders,
        solution=directory("solution", None),
        release=release,
        hypothesis=_hypothesis(r, data.get("hypothesis", {}), _join(path, "hypothesis")),
        limits=replace(
            _limits(r, data.get("limits", {}), _join(path, "limits")),
            imports=_imports(r, data.get("imports", ["numpy"]), _join(path, "imports")),
        ),
        checks=_checks(r, data["checks"], _join(path, "checks")),
        source=r.source,
        digest=digest[:16],
        due=_due(r, data["due"], _join(path, "due")) if "due" in data else None,
        late_policy=_late_policy(r, data["late_policy"], _join(path, "late_policy"))
        if "late_policy" in data
        else None,
        selftest=_selftest(r, data.get("selftest", {}), _join(path, "selftest")),
        stub_sha256=stub,
        serve=_serve(r, data.get("serve", {}), _join(path, "serve")),
    )


def _file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found",
            hint=f"run propgrade from the course directory that holds {CONFIG_NAME}, "
            "or pass --config PATH",
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None


def load_course(path: Path) -> CourseConfig:
    """Load and validate a course's grading.yaml."""
    path = path.resolve()
    r = _Reader(path)
    data = r.mapping(_read_yaml(path), "")
    r.keys(data, "", {"course", "assignments"}, {"assignments"})
    if "course" in data:
        r.string(data["course"], "course")
    assignments_raw = r.mapping(data["assignments"], "assignments")
    if not assignments_raw:
        raise r.fail("assignments", "no assignments are defined")
    assignments = {
        name: parse_assignment(name, raw, _join("assignments", name), r, path.parent)
        for name, raw in assignments_raw.items()
    }
    return CourseConfig(source=path, assignments=assignments)


def load_released(folder: Path) -> AssignmentConfig:
    """Load the assignment.yaml that ``propgrade release`` writes into a student folder."""
    path = (folder / RELEASED_CONFIG_NAME).resolve()
    r = _Reader(path)
    data = r.mapping(_read_yaml(path), "")
    r.keys(data, "", {"assignment"}, {"assignment"})
    body = r.mapping(data["assignment"], "assignment")
    name = r.string(body.get("name"), "assignment.name")
    rest = {k: v for k, v in body.items() if k != "name"}
    return parse_assignment(name, rest, "assignment", r, path.parent, released=True)


def find_course_config(start: Path) -> Path | None:
    """The nearest grading.yaml in ``start`` or one of its parents."""
    for folder in [start.resolve(), *start.resolve().parents]:
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None

"""`propgrade grade --dask`: the same grades as --jobs, on a LocalCluster of processes,
through worker kills, a killed client, a lost scheduler and refusing workers."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from propgrade.cli import main

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
# The test's own cluster threads move the global `random` state while the client draws
# its cases, which Hypothesis notes; the cases do not depend on it (the workers compare
# their digest with the client's).
pytestmark = [
    pytest.mark.dask,
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

ROOT = Path(__file__).resolve().parent.parent
PICK = [
    "correct_reference",
    "bug_svm_no_max",
    "stub",
    "bug_softmax_no_shift",
    "correct_einsum",
    "bug_svm_grad_no_reg",
]


def corpus(name: str) -> Path:
    """A fixture submission of the corpus, by name (the one place that knows where)."""
    return ROOT / "tests" / "submissions" / "linear_classifiers" / name


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("class")
    for name in PICK:
        (base / name).mkdir()
        shutil.copy(corpus(name) / "losses.py", base / name / "losses.py")
    return base


def grade(klass: Path, out: Path, *extra: str, err: io.StringIO | None = None) -> tuple[int, str]:
    err = err or io.StringIO()
    course = str(ROOT / "grading.yaml")
    code = main(
        ["grade", str(klass), "-a", "linear_classifiers", "-o", str(out), "-c", course, *extra],
        out=io.StringIO(),
        err=err,
    )
    return code, err.getvalue()


@pytest.fixture(scope="module")
def by_jobs(klass: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("jobs")
    code, log = grade(klass, out, "--jobs", "2")
    assert code == 0, log
    return out


def scores(out: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for record in sorted(out.glob("*/propgrade.json")):
        data = json.loads(record.read_text())
        found[data["student"]] = {c["id"]: (c["points"], c["status"]) for c in data["checks"]}
    return found


def graded_lines(log: str) -> list[str]:
    """The students of the progress lines, one per result stored by this run."""
    return re.findall(r"^\[\d+/\d+\] (\S+): .*\((?!unchanged)", log, re.M)


@pytest.fixture
def cluster() -> Iterator[Any]:
    # Short reconnection attempts: one test closes the scheduler under the workers.
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "3s"}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=0,
        ) as c,
    ):
        yield c


class Watch(io.StringIO):
    """A progress stream that tells when the first result was stored."""

    def __init__(self) -> None:
        super().__init__()
        self.first = threading.Event()

    def write(self, text: str) -> int:
        if text.startswith("[1/"):
            self.first.set()
        return super().write(text)


def test_local_cluster_grades_like_jobs(klass: Path, by_jobs: Path, tmp_path: Path) -> None:
    code, log = grade(klass, tmp_path, "--dask", "local:2")
    assert code == 0, log
    assert "sandbox: Dask cluster local:2, 2 worker(s)" in log
    assert sorted(graded_lines(log)) == sorted(PICK)
    assert scores(tmp_path) == scores(by_jobs)
    assert (tmp_path / "grades.csv").read_text() == (by_jobs / "grades.csv").read_text()
    assert (tmp_path / "report.html").is_file()
    assert (tmp_path / "stub" / "results.json").is_file()


def test_worker_killed_mid_batch(klass: Path, by_jobs: Path, tmp_path: Path, cluster: Any) -> None:
    err = Watch()
    done: list[int] = []
    client = threading.Thread(
        target=lambda: done.append(
            grade(klass, tmp_path, "--dask", cluster.scheduler_address, err=err)[0]
        )
    )
    client.start()
    assert err.first.wait(120)
    victim = next(iter(cluster.workers.values())).process.pid
    os.kill(victim, signal.SIGKILL)
    client.join(300)
    log = err.getvalue()
    assert done == [0], log
    # Dask graded the killed worker's submission again elsewhere; it was stored once.
    assert sorted(graded_lines(log)) == sorted(PICK)
    assert (tmp_path / "grades.csv").read_text() == (by_jobs / "grades.csv").read_text()


def test_resume_after_the_client_is_killed(klass: Path, by_jobs: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "propgrade.cli", "grade", str(klass)]
    command += ["-a", "linear_classifiers", "-o", str(tmp_path), "-c", str(ROOT / "grading.yaml")]
    # A session of its own: the kill takes the LocalCluster's processes along, as a
    # Ctrl-\ or an OOM kill of the whole job would.
    process = subprocess.Popen(
        [*command, "--dask", "local:2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while len(list(tmp_path.glob("*/propgrade.json"))) < 2:
            assert process.poll() is None, "the client ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    stored = {p.parent.name for p in tmp_path.glob("*/propgrade.json")}
    assert not (tmp_path / "grades.csv").exists()

    code, log = grade(klass, tmp_path, "--dask", "local:2")
    assert code == 0, log
    kept = set(re.findall(r"^\[\d+/\d+\] (\S+): .*unchanged, kept", log, re.M))
    assert stored <= kept
    assert sorted([*kept, *graded_lines(log)]) == sorted(PICK)
    assert (tmp_path / "grades.csv").read_text() == (by_jobs / "grades.csv").read_text()


def test_lost_scheduler_stops_the_client_and_the_rerun_resumes(
    klass: Path, by_jobs: Path, tmp_path: Path, cluster: Any
) -> None:
    # The cluster fixture reads the shortened timeout too: its workers give up on the
    # closed scheduler quickly when it is torn down.
    err = Watch()
    done: list[int] = []
    client = threading.Thread(
        target=lambda: done.append(
            grade(klass, tmp_path, "--dask", cluster.scheduler_address, err=err)[0]
        )
    )
    client.start()
    assert err.first.wait(120)
    cluster.sync(cluster.scheduler.close)
    client.join(120)
    log = err.getvalue()
    assert done == [2], log
    assert f"error: lost the connection to the Dask scheduler at {cluster.scheduler_address}" in log
    assert "rerun the same command" in log
    stored = {p.parent.name for p in tmp_path.glob("*/propgrade.json")}
    assert stored and not (tmp_path / "grades.csv").exists()

    code, log = grade(klass, tmp_path, "--dask", "local:2")
    assert code == 0, log
    assert log.count("unchanged, kept") == len(stored)
    assert (tmp_path / "grades.csv").read_text() == (by_jobs / "grades.csv").read_text()


def other_course(tmp_path: Path) -> Path:
    """A copy of the course whose seed differs: it would draw other cases."""
    course = tmp_path / "course"
    course.mkdir()
    for part in ("graders", "solutions"):
        shutil.copytree(ROOT / part, course / part)
    text = (ROOT / "grading.yaml").read_text()
    changed = re.sub(r"seed: 231\b", "seed: 232", text, count=1)
    assert changed != text
    (course / "grading.yaml").write_text(changed)
    return course / "grading.yaml"


def test_worker_with_other_course_files_is_refused(klass: Path, tmp_path: Path) -> None:
    env = {"PROPGRADE_COURSE": str(other_course(tmp_path))}
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, env=env
    ) as cluster:
        code, log = grade(klass, tmp_path / "out", "--dask", cluster.scheduler_address)
        assert code == 2
        assert "refused to grade: its propgrade, Hypothesis or course files differ" in log
        assert "hypothesis_seed=232 here but 231 on the client" in log
        assert not list((tmp_path / "out").glob("*/propgrade.json"))

        doctor = io.StringIO()
        code = main(
            ["doctor", "--dask", cluster.scheduler_address, "-c", str(ROOT / "grading.yaml")],
            out=doctor,
            err=io.StringIO(),
        )
        assert code == 1
        assert "[FAIL] refuses to grade: its propgrade" in doctor.getvalue()


def test_worker_without_bubblewrap_refuses_unless_reduced_is_allowed(
    klass: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROPGRADE_SANDBOX", raising=False)
    # No bwrap nor setpriv on the worker's PATH: the full layer cannot work there.
    env = {"PATH": str(tmp_path / "empty")}
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, env=env
    ) as cluster:
        code, log = grade(klass, tmp_path / "out", "--dask", cluster.scheduler_address)
        assert code == 2
        assert "refused to grade: the full sandbox layer does not work on this worker" in log
        # The worker's own doctor report, and how to allow the reduced layer.
        assert "sandbox layer: reduced" in log and "PROPGRADE_SANDBOX=reduced" in log

        monkeypatch.setenv("PROPGRADE_SANDBOX", "reduced")
        doctor = io.StringIO()
        args = ["doctor", "--dask", cluster.scheduler_address, "-c", str(ROOT / "grading.yaml")]
        code = main(args, out=doctor, err=io.StringIO())
        report = doctor.getvalue()
        assert code == 0, report
        assert "required layer: reduced" in report and "  sandbox layer: reduced" in report
        assert "[ok]   linear_classifiers: fingerprint equals this client's" in report

        # Asked for by name, the reduced layer still needs the instructor's say-so.
        code, log = grade(klass, tmp_path / "reduced", "--dask", cluster.scheduler_address)
        assert code == 2 and "--allow-reduced" in log and "apt-get install bubblewrap" in log
        assert not (tmp_path / "reduced" / "stub").exists()
        code, log = grade(
            klass, tmp_path / "reduced", "--dask", cluster.scheduler_address, "--allow-reduced"
        )
        assert code == 0, log
        record = json.loads((tmp_path / "reduced" / "stub" / "propgrade.json").read_text())
        assert record["meta"]["sandbox"] == "reduced"


def test_doctor_reports_each_worker(tmp_path: Path) -> None:
    out = io.StringIO()
    args = ["doctor", "--dask", "local:2", "-c", str(ROOT / "grading.yaml")]
    code = main(args, out=out, err=io.StringIO())
    report = out.getvalue()
    assert report.count("\nworker tcp://127.0.0.1:") == 2
    assert report.count("[ok]   linear_classifiers: fingerprint equals") == 2
    assert "cases_hash=" in report and "versions: propgrade" in report
    assert code == (0 if "sandbox layer: full" in report else 1)


def test_without_distributed_a_clear_error(
    klass: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    code, log = grade(klass, tmp_path, "--dask", "local:2")
    assert code == 2
    assert "--dask needs the 'distributed' package" in log
    assert "pip install 'propgrade[dask]'" in log


def test_bad_local_spec(klass: Path, tmp_path: Path) -> None:
    code, log = grade(klass, tmp_path, "--dask", "local:zero")
    assert code == 2 and "expected local:N" in log


def test_local_workers_get_a_memory_limit_from_the_courses_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A local:N worker grades as a --jobs child does: one submission may grow it by
    # limits.grader_memory_mb (engine/memory.py). Its nanny's memory_limit, twice that, is
    # the wall behind it; a worker without one (memory_limit=0) could take the machine.
    course = (ROOT / "grading.yaml").read_text()
    for key in ("solutions", "assignments", "graders"):
        course = course.replace(f": {key}/", f": {ROOT / key}/")
    course = course.replace("    limits:\n", "    limits:\n      grader_memory_mb: 1024\n", 1)
    config = tmp_path / "grading.yaml"
    config.write_text(course)
    klass = tmp_path / "class"
    (klass / "stub").mkdir(parents=True)
    shutil.copy(corpus("stub") / "losses.py", klass / "stub" / "losses.py")
    limits: list[list[int]] = []

    class Recorded(distributed.LocalCluster):
        def close(self, *args: Any, **kwargs: Any) -> Any:
            # What the scheduler knows of each worker, asked before the cluster goes.
            limits.append([w["memory_limit"] for w in self.scheduler_info["workers"].values()])
            return super().close(*args, **kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", Recorded)
    out = tmp_path / "out"
    argv = ["grade", str(klass), "-a", "linear_classifiers", "-o", str(out), "-c", str(config)]
    code = main([*argv, "--dask", "local:1"], out=io.StringIO(), err=(err := io.StringIO()))
    assert code == 0, err.getvalue()
    assert json.loads((out / "stub" / "propgrade.json").read_text())["student"] == "stub"
    assert limits and limits[0] == [2 * 1024 << 20]  # not the 4096 MB default


def _notebook(*sources: str) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# my work"}]
    for source in sources:
        code = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": []}
        cells.append({**code, "source": source.splitlines(keepends=True)})
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_a_notebooks_errors_name_its_cells_on_the_cluster_too(tmp_path: Path) -> None:
    """The released stub beside a notebook: the notebook is graded (one rule on every
    route), and its errors name the notebook's cell and line, as with --jobs."""
    reference = (ROOT / "solutions/linear_classifiers/losses.py").read_text()
    raising = reference.replace(
        "def svm_loss_naive(",
        "def svm_loss_naive(W, X, y, reg):\n    raise KeyError('oops')\n\n\ndef _old(",
        1,
    )
    missing = raising.replace("raise KeyError('oops')", "return not_there(W)")
    notebooks = {
        "nora": _notebook("import numpy as np\nfrom numpy import not_there\n", missing),
        "olaf": _notebook("import numpy as np\n", raising),
    }
    klass = tmp_path / "class"
    for student, text in notebooks.items():
        (klass / student).mkdir(parents=True)
        (klass / student / "mine.ipynb").write_text(text)
        shutil.copy(ROOT / "assignments/linear_classifiers/losses.py", klass / student)
    records = {}
    for route in (("--jobs", "1"), ("--dask", "local:1")):
        out = tmp_path / route[0].strip("-")
        code, log = grade(klass, out, *route)
        assert code == 0, log
        records[route[0]] = {
            s: json.loads((out / s / "propgrade.json").read_text()) for s in notebooks
        }
    on_dask, by_jobs = records["--dask"], records["--jobs"]
    for student in notebooks:
        assert on_dask[student]["meta"]["graded_from"] == "mine.ipynb"
        assert on_dask[student]["error"] == by_jobs[student]["error"]
        assert [c.get("feedback") for c in on_dask[student]["checks"]] == [
            c.get("feedback") for c in by_jobs[student]["checks"]
        ]
    error = on_dask["nora"]["error"]
    assert "importing the code of mine.ipynb failed" in error
    assert 'File "mine.ipynb", cell 2, line 2, in <module>' in error
    line = 1 + raising.splitlines().index("    raise KeyError('oops')")
    said = {  # the error and every feedback field, as the student reads them
        s: [r["error"], *(str(v) for c in r["checks"] for v in (c.get("feedback") or {}).values())]
        for s, r in on_dask.items()
    }
    where = f'File "mine.ipynb", cell 3, line {line}, in svm_loss_naive'
    assert any(where in text for text in said["olaf"])
    assert not any('"losses.py"' in text for texts in said.values() for text in texts)

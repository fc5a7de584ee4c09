"""``propgrade serve --dask``: the service grades on a Dask cluster, as ``grade --dask``
does, and will not start on a cluster whose workers would grade with other course files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_full
from serve_helpers import RIGHT, Server, issue_tokens, propgrade, running, write_course

distributed = pytest.importorskip("distributed")

pytestmark = [pytest.mark.dask, pytest.mark.sandbox, needs_full]


def _cluster(**options: Any) -> Any:
    return distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, **options
    )


@pytest.fixture
def course(tmp_path: Path) -> Path:
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    return write_course(tmp_path / "course", due=due)


@pytest.fixture
def cluster() -> Iterator[Any]:
    with _cluster() as cluster:
        yield cluster


def test_submissions_are_graded_on_the_cluster(course: Path, cluster: Any) -> None:
    out = course / "out"
    tokens = issue_tokens(course, out)
    extra = ("--dask", cluster.scheduler_address, "--jobs", "1")
    with running(Server(course, out, extra=extra)) as server:
        answer = server.submit(tokens["alice"], "double.py", RIGHT.encode())
        assert answer.status == 201, answer.body
        view = server.wait_done(tokens["alice"], answer.json()["id"])
    assert (view["score"], view["max_score"]) == (1, 1)
    # The grading ran as a task of this cluster, not in the server's own processes.
    with distributed.Client(cluster) as client:
        prefixes = client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.task_prefixes)
        )
    assert any(prefix.startswith("propgrade-alice") for prefix in prefixes), prefixes


def test_a_cluster_with_other_course_files_is_refused_at_start(
    course: Path, tmp_path: Path
) -> None:
    other = write_course(tmp_path / "other")
    (other / "graders" / "test_double.py").write_text(
        (other / "graders" / "test_double.py").read_text() + "\n# changed\n"
    )
    out = course / "out"
    issue_tokens(course, out)
    with _cluster(env={"PROPGRADE_COURSE": str(other / "grading.yaml")}) as cluster:
        done = propgrade(
            "serve", "--assignment", "doubling", "--out", str(out), "--port", "0",
            "--dask", cluster.scheduler_address, cwd=course,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "refused to grade: its propgrade, Hypothesis or course files differ" in done.stderr


def test_workers_asked_for_the_reduced_layer_need_allow_reduced(
    course: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As grade --dask: the reduced layer, even asked for by name, is not used to grade a
    # class unless the instructor says so; with --allow-reduced the server grades there.
    monkeypatch.setenv("PROPGRADE_SANDBOX", "reduced")
    out = course / "out"
    tokens = issue_tokens(course, out)
    with _cluster(env={"PROPGRADE_SANDBOX": "reduced"}) as cluster:
        done = propgrade(
            "serve", "--assignment", "doubling", "--out", str(out), "--port", "0",
            "--dask", cluster.scheduler_address, cwd=course,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "error: only the reduced sandbox layer works here" in done.stderr
        assert "--allow-reduced" in done.stderr
        extra = ("--dask", cluster.scheduler_address, "--jobs", "1", "--allow-reduced")
        with running(Server(course, out, extra=extra)) as server:
            answer = server.submit(tokens["alice"], "double.py", RIGHT.encode())
            assert answer.status == 201, answer.body
            view = server.wait_done(tokens["alice"], answer.json()["id"])
    assert (view["score"], view["max_score"]) == (1, 1)

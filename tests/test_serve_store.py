"""The service's store on its own, against SQLite and PostgreSQL: claims and results.

No server and no sandbox: these pin the rules that keep a submission from being graded
twice, whatever the timing of the processes that share a database.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from serve_helpers import BACKENDS, database

from propgrade.engine.results import SubmissionResult
from propgrade.serve import store
from propgrade.serve.db import migrate, open_engine, people, submissions


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    engine = open_engine(database(str(request.param), tmp_path))
    migrate(engine)
    yield engine
    engine.dispose()


def result(student: str) -> SubmissionResult:
    return SubmissionResult(student, "doubling", checks=[])


def test_a_worker_whose_claim_was_taken_over_cannot_write_its_result(
    engine: sa.Engine, tmp_path: Path
) -> None:
    stored, new = store.receive(engine, tmp_path, "alice", "doubling", "double.py", b"x = 1\n")
    assert new
    first = store.claim(engine, "doubling", "w1", lease=-1.0)  # a lease already run out
    assert first is not None and first.id == stored.id
    second = store.claim(engine, "doubling", "w2", lease=60.0)
    assert second is not None and second.id == stored.id  # taken over
    assert store.claim(engine, "doubling", "w3", lease=60.0) is None  # w2's lease holds
    assert not store.finish(engine, stored.id, "w1", result("alice"))
    assert store.finish(engine, stored.id, "w2", result("alice"))
    assert not store.finish(engine, stored.id, "w2", result("alice"))  # once
    assert store.event_counts(engine, "graded") == {stored.id: 1}
    assert store.event_counts(engine, "requeued") == {stored.id: 1}


def test_the_same_bytes_are_stored_once(engine: sa.Engine, tmp_path: Path) -> None:
    first, new = store.receive(engine, tmp_path, "alice", "doubling", "double.py", b"x = 1\n")
    again, again_new = store.receive(engine, tmp_path, "alice", "doubling", "double.py", b"x = 1\n")
    assert new and not again_new and first.public_id == again.public_id
    other, other_new = store.receive(engine, tmp_path, "bob", "doubling", "double.py", b"x = 1\n")
    assert other_new and other.public_id != first.public_id
    assert (tmp_path / "uploads" / first.public_id / "double.py").read_bytes() == b"x = 1\n"


@pytest.fixture
def postgresql(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = open_engine(database("postgresql", tmp_path))
    migrate(engine)
    yield engine
    engine.dispose()


def test_a_claim_skips_a_row_another_server_is_claiming(
    postgresql: sa.Engine, tmp_path: Path
) -> None:
    # (SQLite lets one writer in at a time: there is no row lock to skip there.)
    engine = postgresql
    one, _ = store.receive(engine, tmp_path, "alice", "doubling", "double.py", b"x = 1\n")
    two, _ = store.receive(engine, tmp_path, "bob", "doubling", "double.py", b"x = 2\n")
    other = open_engine(engine.url.render_as_string(hide_password=False))
    claimed: list[store.Stored | None] = []
    with other.connect() as conn:
        # Another server in the middle of claiming the oldest row: it holds its lock.
        locked = conn.execute(
            sa.select(submissions.c.id).where(submissions.c.id == one.id).with_for_update()
        ).scalar_one()
        assert locked == one.id
        thread = threading.Thread(
            target=lambda: claimed.append(store.claim(engine, "doubling", "w2", lease=60.0)),
            daemon=True,
        )
        thread.start()
        thread.join(timeout=60)
        blocked = thread.is_alive()
        conn.rollback()
    thread.join(timeout=60)
    other.dispose()
    assert not blocked, "the claim waited for the other server's lock instead of skipping"
    assert claimed and claimed[0] is not None and claimed[0].id == two.id


def test_concurrent_uploads_cannot_slip_under_the_hourly_limit(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(people).values(student="alice", role="student", token_sha256="0" * 64)
        )
    outcomes: list[str] = []

    def upload(n: int) -> None:
        try:
            store.receive(engine, tmp_path, "alice", "doubling", "double.py", b"%d" % n, 2)
            outcomes.append("stored")
        except store.RateLimited as limited:
            assert 3500 <= limited.retry_after <= 3600
            outcomes.append("refused")

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 4 + ["stored"] * 2
    assert len(store.history(engine, "alice", "doubling")) == 2


def test_a_sql_ascii_database_still_gives_text(postgresql: sa.Engine, tmp_path: Path) -> None:
    # initdb in the C locale makes SQL_ASCII databases, where a driver left to the
    # server's encoding hands text back as bytes (every query failed so in CI).
    import psycopg

    name = "propgrade_ascii_" + os.urandom(6).hex()
    admin = postgresql.url.render_as_string(hide_password=False).replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0")
    engine = open_engine(admin.rsplit("/", 1)[0] + "/" + name)
    try:
        migrate(engine)
        stored, _ = store.receive(engine, tmp_path, "alice", "doubling", "double.py", b"x = 1\n")
        with engine.connect() as conn:
            student = conn.execute(
                sa.select(submissions.c.student).where(submissions.c.id == stored.id)
            ).scalar_one()
        assert student == "alice"
    finally:
        engine.dispose()

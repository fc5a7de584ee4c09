"""The service's tables and how to open its database.

SQLAlchemy Core tables; Alembic (``migrations/``) creates and upgrades them, so a course's
database survives a propgrade upgrade. SQLite runs in WAL mode, so pages are read while
a worker writes a result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from propgrade.errors import PropgradeError

metadata = sa.MetaData()

# One row per roster entry. Only the token's sha256 is kept: the tokens are random, so
# a plain digest is as good as a slow hash, and the database alone gives nobody access.
people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("student", sa.String(200), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),  # "student" or "instructor"
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("email", sa.String(300), nullable=False, server_default=""),
)

QUEUED = "queued"
GRADING = "grading"
DONE = "done"

submissions = sa.Table(
    "submissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # What URLs show: random, so one id says nothing about another.
    sa.Column("public_id", sa.String(40), nullable=False, unique=True),
    sa.Column("student", sa.String(200), nullable=False, index=True),
    sa.Column("assignment", sa.String(200), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(200), nullable=False),
    # The server's clock when the upload was stored: the one trusted submission time.
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("claimed_by", sa.String(100), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("graded_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("max_score", sa.Float, nullable=True),
    sa.Column("result_json", sa.Text, nullable=True),
    sa.UniqueConstraint("student", "assignment", "sha256", name="uq_submission_content"),
)

# What happened to each submission, in order: the evidence that none was graded twice.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("submission_id", sa.Integer, nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),  # received, claimed, graded, requeued
    sa.Column("worker", sa.String(100), nullable=False, server_default=""),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# Course-wide switches the dashboard sets (e.g. "released").
settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


class DatabaseError(PropgradeError):
    """The database URL is unusable."""


def default_url(out: Path) -> str:
    return f"sqlite:///{(out / 'serve.sqlite3').resolve()}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def normalized_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy's default would be psycopg2)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("sqlite:", "postgresql+psycopg://")):
        return url
    raise DatabaseError(
        f"unsupported database URL scheme: {url.split(':', 1)[0]!r}",
        hint="use sqlite:///path/file.sqlite3 or postgresql://user@host/dbname",
    )


def open_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL mode, a busy timeout and foreign keys."""
    url = normalized_url(url)
    kwargs: dict[str, Any] = {}
    if is_sqlite(url):
        # Workers are separate processes: each waits for the writer's lock instead of
        # failing at once.
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
        # A database created without an encoding (initdb in the C locale) is SQL_ASCII,
        # where psycopg hands text back as bytes; UTF-8 on the wire keeps it text.
        kwargs["connect_args"] = {"client_encoding": "utf8"}
    engine = sa.create_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


READ = "propgrade_read"


def reader(engine: sa.Engine) -> sa.Engine:
    """``engine`` for reads only: on SQLite its transactions take no write lock, so pages
    and polls never queue behind the workers' writes (WAL lets them read meanwhile)."""
    return engine.execution_options(**{READ: True})


def _sqlite_begin(conn: sa.Connection) -> None:
    # pysqlite's own transaction handling would start transactions late. A writing
    # transaction takes the write lock up front with BEGIN IMMEDIATE, so it waits for
    # the lock (busy_timeout) rather than failing when it first writes, and a claim's
    # read-then-update is atomic.
    read_only = conn.get_execution_options().get(READ, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by the "begin" hook
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged upload survives power loss
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def migrate(engine: sa.Engine) -> None:
    """Create or upgrade the schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

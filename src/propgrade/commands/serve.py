"""``propgrade serve``: the submission service; ``propgrade serve roster``: its tokens."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from propgrade.commands.common import course_assignment
from propgrade.commands.grade import _check_layer
from propgrade.config import CONFIG_NAME, AssignmentConfig, find_course_config
from propgrade.errors import PropgradeError
from propgrade.sandbox import scratch
from propgrade.sandbox.layer_choice import default_layer

ENV_DB = "PROPGRADE_DB"  # the database URL, so a password need not be on a command line
LOCK_NAME = "serve.lock"
TOKENS_NAME = "tokens.csv"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``serve --assignment NAME --out OUT`` and ``serve roster ROSTER.csv --out OUT``."""
    serve = sub.add_parser(
        "serve",
        help="run the submission service: students upload, get feedback in seconds",
        description="Serve one assignment: students sign in with their token, upload the "
        "graded file or their notebook, and get the feedback page; the instructor's token "
        "opens the dashboard. Grading runs in a pool of the same sandboxed workers as "
        "`grade`. Issue the tokens first with `propgrade serve roster`.",
        epilog="examples:\n"
        "  propgrade serve roster roster.csv --out out/serve\n"
        "  propgrade serve --assignment linear_classifiers --out out/serve --port 8000\n"
        "  propgrade serve --assignment linear_classifiers --out out/serve --dask tcp://10.0.0.5:8786",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(serve)
    serve.add_argument("--assignment", "-a", help="assignment name in the course file")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    serve.add_argument(
        "--jobs", "-j", type=int, help="grading processes (default: number of CPUs, at most 8)"
    )
    serve.add_argument(
        "--lease",
        type=float,
        default=30.0,
        help="seconds a grading claim lasts unless renewed: after a crash, another server "
        "takes the work over this long after (default: %(default)s)",
    )
    serve.add_argument(
        "--allow-reduced",
        action="store_true",
        help="serve even where only the reduced sandbox layer works (see grade --help)",
    )
    serve.add_argument(
        "--proxy",
        action="store_true",
        help="behind a reverse proxy on this machine: trust its X-Forwarded-Proto/-For",
    )
    serve.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="grade on a Dask cluster, as `grade --dask` does: a scheduler address "
        "(tcp://HOST:8786) or local:N; --jobs then sets how many submissions are in flight. "
        "Needs pip install 'propgrade[dask]'",
    )
    serve.add_argument("--quiet", "-q", action="store_true", help="no access log")
    tasks = serve.add_subparsers(dest="serve_task", metavar="TASK")
    roster = tasks.add_parser(
        "roster",
        help="issue one random token per student (and one for the instructor)",
        description="Read ROSTER.csv (a 'student' column, optionally 'email'), store a "
        "hash of a fresh token for each student and the instructor, and write the tokens "
        f"to OUT/{TOKENS_NAME} for a mail merge. Earlier tokens of these students stop "
        "working.",
    )
    roster.add_argument("roster", type=Path, help="CSV with a 'student' column")
    _common(roster)
    roster.add_argument(
        "--server", default="", help="the address students submit to, for the mail merge"
    )
    roster.add_argument(
        "--tokens", type=Path, help=f"where to write the tokens (default: OUT/{TOKENS_NAME})"
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", "-o", type=Path, help="the service's folder: uploads, and the SQLite database"
    )
    parser.add_argument(
        "--db",
        help=f"database URL: sqlite:///file or postgresql://user@host/db (default: ${ENV_DB}, "
        "else OUT/serve.sqlite3)",
    )
    parser.add_argument(
        "--config", "-c", type=Path, help=f"course file (default: nearest {CONFIG_NAME})"
    )


def _db_url(args: argparse.Namespace) -> str:
    from propgrade.serve.db import default_url

    return args.db or os.environ.get(ENV_DB) or default_url(args.out)


def _shown(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise PropgradeError(
            "propgrade serve needs its extra packages", hint="pip install 'propgrade[serve]'"
        ) from None
    if args.out is None:
        raise PropgradeError("serve needs --out, the service's folder", hint="e.g. --out out/serve")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.serve_task == "roster":
        return _roster(args, out)
    return _serve(args, out, err)


def _open(url: str):  # type: ignore[no-untyped-def]
    from propgrade.serve.db import migrate, open_engine

    engine = open_engine(url)
    migrate(engine)
    return engine


def _roster(args: argparse.Namespace, out: TextIO) -> int:
    from propgrade.serve.tokens import issue, read_roster, write_mail_merge

    entries = read_roster(args.roster)
    engine = _open(_db_url(args))
    issued = issue(engine, entries)
    path = write_mail_merge(args.tokens or args.out / TOKENS_NAME, issued, args.server)
    print(
        f"issued {len(issued) - 1} student tokens and one instructor token; they are in "
        f"{path} (keep it private: only their hashes are stored)",
        file=out,
    )
    return 0


@contextlib.contextmanager
def _only_server(folder: Path) -> Iterator[None]:
    """One server per SQLite database: the lock makes its leftover claims safe to take."""
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PropgradeError(
                f"another propgrade serve already uses {folder}",
                hint="stop it first; to run several servers, share a PostgreSQL database (--db)",
            ) from None
        yield
    finally:
        os.close(fd)


def _serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import sqlalchemy as sa
    import uvicorn

    from propgrade.serve import store
    from propgrade.serve.app import build_app
    from propgrade.serve.db import is_sqlite, people
    from propgrade.serve.service import Service
    from propgrade.serve.workers import Supervisor

    if args.assignment is None:
        raise PropgradeError(
            "serve needs --assignment NAME", hint="the assignment to take submissions for"
        )
    jobs = args.jobs if args.jobs is not None else min(os.cpu_count() or 1, 8)
    if jobs < 1:
        raise PropgradeError(f"--jobs must be at least 1, got {jobs}")
    config = args.config or find_course_config(Path.cwd())
    assignment = course_assignment(config, args.assignment)
    url = _db_url(args)
    engine = _open(url)
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(people)).scalar_one()
    if not count:
        print(
            "warning: no tokens issued yet, so nobody can sign in: run "
            "`propgrade serve roster ROSTER.csv --out OUT` (it may run while this serves)",
            file=err,
        )
    with contextlib.ExitStack() as stack:
        if is_sqlite(url):
            stack.enter_context(_only_server(args.out))
            # No other server uses this database: whatever was being graded when the
            # last one stopped is unfinished, and is queued again now.
            requeued = store.release_claims(engine, assignment.name)
            if requeued:
                print(f"{requeued} unfinished submissions queued again", file=err)
        scratch.sweep()
        if args.dask is None:
            layer = default_layer()
            _check_layer(layer.name, args.allow_reduced)
            sandbox, dask_address = layer.describe(), None
        else:
            sandbox, dask_address = _dask(stack, args.dask, assignment, err, args.allow_reduced)
        supervisor = Supervisor(
            assignment.source,
            assignment.name,
            url,
            args.out.resolve(),
            jobs,
            args.lease,
            dask=dask_address,
        )
        supervisor.start()
        stack.callback(supervisor.stop)
        service = Service(engine, args.out.resolve(), assignment)
        print(
            f"serving {assignment.name} on http://{args.host}:{args.port} "
            f"(database {_shown(url)}, {jobs} grading processes, sandbox: {sandbox})",
            file=err,
            flush=True,
        )
        uvicorn.run(
            build_app(service),
            host=args.host,
            port=args.port,
            log_level="warning" if args.quiet else "info",
            access_log=not args.quiet,
            proxy_headers=args.proxy,
            forwarded_allow_ips="127.0.0.1" if args.proxy else None,
            timeout_graceful_shutdown=10,
        )
    return 0


def _dask(
    stack: contextlib.ExitStack,
    address: str,
    assignment: AssignmentConfig,
    err: TextIO,
    allow_reduced: bool,
) -> tuple[str, str]:
    """Connect to the cluster (or start ``local:N``), check that its workers may grade
    this assignment, and give the scheduler's address for the grading processes."""
    from propgrade.commands.grade import _dask_cluster
    from propgrade.engine.grading import prepare

    plan = prepare(assignment)
    cluster = stack.enter_context(_dask_cluster(address, err, plan.limits.grader_memory_mb))
    # Workers asked for the reduced layer by name still need the instructor's say-so,
    # as grade --dask does.
    _check_layer(cluster.sandbox, allow_reduced)
    cluster.check_workers(plan)
    return f"Dask at {address}: {cluster.describe()}", cluster.scheduler_address

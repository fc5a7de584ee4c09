"""What the service's tests share: a tiny course, and a real ``propgrade serve`` process.

The course grades ``double(x)``: one visible check, one after the due date (against the
reference). Its students: a right answer, a wrong one, one that raises an exception whose
message is HTML, and a slow one (each call sleeps) that keeps a grade in flight long
enough to kill the server or a worker during it.
"""

from __future__ import annotations

import contextlib
import csv
import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Ends every shared test process: a test never leaves a server running.
DEADLINE = 240.0

GRADER = """
import numpy as np
from hypothesis import strategies as st

from propgrade import check, expect

SEEDS = st.integers(0, 5)


@check("doubles", "double(x) is twice x.", SEEDS)
def doubles(seed, student):
    x = np.arange(3.0) + seed
    got = expect.array(student.call("double", x), "double(x)", (3,))
    expect.close(got, 2 * x, "double(x)", rtol=1e-12)


@check("matches_reference", "double(x) matches the reference.", SEEDS)
def matches_reference(seed, student, reference):
    x = np.arange(3.0) - seed
    got = expect.array(student.call("double", x), "double(x)", (3,))
    expect.close(got, reference.double(x), "double(x)", rtol=1e-12)
"""

# The reference carries a marker that must never reach any response.
REFERENCE_MARKER = "REFERENCE-ONLY-7f3c9e"
REFERENCE = f"""
import numpy as np

# {REFERENCE_MARKER}
def double(x):
    return np.asarray(x, dtype=np.float64) * 2.0  # {REFERENCE_MARKER}
"""

RIGHT = "import numpy as np\n\n\ndef double(x):\n    return x * 2\n"
WRONG = "import numpy as np\n\n\ndef double(x):\n    return x + 2\n"
# Escaping must hold for what a student's exception says (the reports' hostile strings).
HOSTILE_TEXT = "<img src=x onerror=\"document.title='PWNED'\"><script>alert(1)</script>"
# A student id made of the same: it reaches the dashboard and every page of that student.
HOSTILE_ID = "<img src=x onerror=\"document.title='PWNED'\">\"'&"
_QUOTED_ID = '"' + HOSTILE_ID.replace('"', '""') + '"'
HOSTILE = f"def double(x):\n    raise ValueError({HOSTILE_TEXT!r})\n"
SLOW = "import time\n\n\ndef double(x):\n    time.sleep(1.0)\n    return x * 2\n"


def course_yaml(
    *,
    due: str | None = None,
    per_hour: int | None = None,
    counts: str = "latest",
    late: bool = False,
) -> str:
    lines = [
        "assignments:",
        "  doubling:",
        "    graders: graders",
        "    solution: solution",
        "    graded_file: double.py",
        "    functions: [double]",
        "    hypothesis: {seed: 1, max_examples: 2}",
        "    limits: {call_seconds: 20, submission_seconds: 120}",
    ]
    if due is not None:
        lines.append(f"    due: '{due}'")
    if late:
        lines.append("    late_policy: {per_day: 0.25, max_days: 3}")
    serve = [f"counts: {counts}"]
    if per_hour is not None:
        serve.append(f"attempts_per_hour: {per_hour}")
    lines.append(f"    serve: {{{', '.join(serve)}}}")
    lines += [
        "    checks:",
        "      doubles: {points: 1, visibility: visible}",
        "      matches_reference: {points: 3, visibility: after_due_date}",
    ]
    return "\n".join(lines) + "\n"


def write_course(base: Path, **options: Any) -> Path:
    files = {
        "grading.yaml": course_yaml(**options),
        "graders/test_double.py": GRADER,
        "graders/__init__.py": "",
        "solution/double.py": REFERENCE,
        "roster.csv": "student,email\nalice,a@example.edu\nbob,b@example.edu\ncarol,\n"
        + _QUOTED_ID
        + ",\n",
    }
    for name, text in files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text)
    return base


def notebook(source: str) -> str:
    cells = [
        {
            "cell_type": "code",
            "metadata": {},
            "source": source,
            "outputs": [],
            "execution_count": None,
        }
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def propgrade(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "propgrade.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=DEADLINE,
    )


def issue_tokens(course: Path, out: Path, db: str | None = None) -> dict[str, str]:
    extra = ["--db", db] if db else []
    done = propgrade("serve", "roster", "roster.csv", "--out", str(out), *extra, cwd=course)
    assert done.returncode == 0, done.stderr
    with (out / "tokens.csv").open(newline="") as handle:
        return {row["student"]: row["token"] for row in csv.DictReader(handle)}


@dataclass
class Response:
    status: int
    body: str
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    """A real ``propgrade serve`` process on a loopback port."""

    course: Path
    out: Path
    db: str | None = None
    jobs: int = 2
    lease: float = 30.0
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    seen: list[str] = field(default_factory=list)  # every response body, for leak checks
    extra: tuple[str, ...] = ()  # more options of propgrade serve

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.out.mkdir(parents=True, exist_ok=True)
        self.log = self.out / f"server-{self.port}-{time.monotonic_ns()}.log"
        command = [
            sys.executable,
            "-m",
            "propgrade.cli",
            "serve",
            "--assignment",
            "doubling",
            "--out",
            str(self.out),
            "--port",
            str(self.port),
            "--jobs",
            str(self.jobs),
            "--lease",
            str(self.lease),
        ]
        if self.db:
            command += ["--db", self.db]
        command += self.extra
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, cwd=self.course, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            with contextlib.suppress(OSError):
                if self.get("/healthz").status == 200:
                    return self
            time.sleep(0.2)
        raise AssertionError(f"the server did not start: {self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL the server process alone, as a crash would."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Whatever the server started goes with it (workers die with their parent too).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
                if ppid == self.proc.pid and b"propgrade.serve.workers" in cmdline:
                    found.append(int(entry.name))
        return found

    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> Response:
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=dict(headers or {})
        )
        open_ = opener.open if opener is not None else urllib.request.urlopen
        try:
            with open_(request, timeout=60) as response:
                result = Response(
                    response.status,
                    response.read().decode("utf-8", "replace"),
                    dict(response.headers),
                )
        except urllib.error.HTTPError as exc:
            result = Response(
                exc.code,
                exc.read().decode("utf-8", "replace"),
                {k.lower(): v for k, v in exc.headers.items()},
            )
        self.seen.append(result.body)
        return result

    def get(self, path: str, token: str | None = None) -> Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.request("GET", path, headers=headers)

    def submit(self, token: str | None, filename: str, content: bytes) -> Response:
        body, boundary = multipart({"file": (filename, content)})
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.request("POST", "/api/submissions", data=body, headers=headers)

    def wait_done(self, token: str, sid: str, timeout: float = DEADLINE) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.get(f"/api/submissions/{sid}", token).json()
            if view["status"] == "done":
                return dict(view)
            time.sleep(0.25)
        raise AssertionError(f"{sid} not graded in {timeout} s")

    def browser(self, token: str) -> Browser:
        """A cookie session signed in with ``token``, as a browser would be."""
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        session = Browser(self, opener)
        response = session.post_form("/login", {"token": token})
        assert response.status == 200, response.body
        return session


@dataclass
class Browser:
    server: Server
    opener: urllib.request.OpenerDirector

    def get(self, path: str) -> Response:
        return self.server.request("GET", path, opener=self.opener)

    def post_form(self, path: str, fields: Mapping[str, str]) -> Response:
        data = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.server.request("POST", path, data=data, headers=headers, opener=self.opener)

    def upload(self, filename: str, content: bytes, csrf: str | None) -> Response:
        fields: dict[str, str | tuple[str, bytes]] = {"file": (filename, content)}
        if csrf is not None:
            fields["csrf"] = csrf
        body, boundary = multipart(fields)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self.server.request(
            "POST", "/upload", data=body, headers=headers, opener=self.opener
        )


def csrf_of(page: str) -> str:
    marker = 'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def multipart(fields: Mapping[str, str | tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "b" + os.urandom(8).hex()
    parts = []
    for name, value in fields.items():
        if isinstance(value, tuple):
            filename, content = value
            head = (
                f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            )
            parts.append(f"--{boundary}\r\n".encode() + head.encode() + content + b"\r\n")
        else:
            parts.append(
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- the databases --------------------------------------------------------------------------

POSTGRES_ENV = "PROPGRADE_TEST_POSTGRES"  # a PostgreSQL URL whose role may create databases
BACKENDS = ("sqlite", "postgresql")


def database(backend: str, folder: Path) -> str:
    """A fresh, empty database of ``backend`` for one server (or two sharing it)."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'serve.sqlite3'}"
    import psycopg
    import pytest
    from conftest import MISSING

    admin = os.environ.get(POSTGRES_ENV, "")
    if not admin:
        pytest.skip(f"{MISSING}PostgreSQL (${POSTGRES_ENV}; .ci/run starts one)")
    name = "propgrade_test_" + os.urandom(6).hex()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin.rsplit("/", 1)[0] + "/" + name


def rows(db: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    import sqlalchemy as sa

    from propgrade.serve.db import open_engine

    engine = open_engine(db)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()

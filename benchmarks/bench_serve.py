"""Load test of ``propgrade serve``: a class submits in one burst, on loopback.

    python benchmarks/bench_serve.py                  # 200 students over 60 s, SQLite
    python benchmarks/bench_serve.py --students 20 --seconds 10 --jobs 2
    python benchmarks/bench_serve.py --db postgresql://user@127.0.0.1/dbname

Starts a real ``propgrade serve`` on a free loopback port for the course's assignment,
issues a token to every student, and has each student upload once at a random moment of
the burst (the demo class's files, each made distinct), then wait for the feedback as the
status page does, asking once a second. An upload refused with 429 or 503 is retried
after its Retry-After. Prints:

- accepted: uploads answered 2xx with a submission id;
- refused-with-retry: answers 429/503 with Retry-After (each retried);
- lost: accepted uploads that were not graded, or whose feedback page did not load, by
  the end (must be 0);
- upload-to-feedback latency p50/p95: from the start of the upload until the student's
  poll sees the grade (so up to one poll interval more than the server took).

Sends traffic only to 127.0.0.1, with a bounded number of requests, and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASS = ROOT / "examples" / "submissions"
POLL_SECONDS = 1.0
MAX_UPLOAD_TRIES = 20


@dataclass
class Outcome:
    student: str
    accepted: bool = False
    refused: int = 0  # answers 429/503 that came with Retry-After
    submission: str = ""
    latency: float | None = None
    feedback_ok: bool = False
    error: str = ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(
    url: str, token: str, data: bytes | None = None, content_type: str = ""
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = "bench" + os.urandom(8).hex()
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), boundary


def _student(
    base: str, outcome: Outcome, token: str, content: bytes, start_at: float, deadline: float
) -> None:
    time.sleep(max(0.0, start_at - time.monotonic()))
    body, boundary = _multipart("losses.py", content)
    began = time.monotonic()
    view: dict[str, object] = {}
    for _ in range(MAX_UPLOAD_TRIES):
        try:
            status, headers, raw = _request(
                f"{base}/api/submissions", token, body, f"multipart/form-data; boundary={boundary}"
            )
        except OSError as exc:  # refused connection, reset: the upload did not happen
            outcome.error = f"upload: {exc}"
            time.sleep(1.0)
            continue
        if status in (429, 503) and "Retry-After" in headers:
            outcome.refused += 1
            time.sleep(float(headers["Retry-After"]))
            continue
        if status in (200, 201):
            view = json.loads(raw)
            outcome.accepted, outcome.submission, outcome.error = True, str(view["id"]), ""
        else:
            outcome.error = f"upload answered {status}: {raw[:200]!r}"
        break
    if not outcome.accepted:
        return
    while time.monotonic() < deadline:
        status, _, raw = _request(f"{base}/api/submissions/{outcome.submission}", token)
        if status == 200 and json.loads(raw)["status"] == "done":
            outcome.latency = time.monotonic() - began
            break
        time.sleep(POLL_SECONDS)
    else:
        outcome.error = "not graded before the deadline"
        return
    # The page a student then opens: the API tells where; its owner's bearer token
    # is not a browser session, so this checks the JSON view's score is there.
    status, _, raw = _request(f"{base}/api/submissions/{outcome.submission}", token)
    outcome.feedback_ok = status == 200 and "score" in json.loads(raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the burst")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--assignment", default="linear_classifiers")
    parser.add_argument("--db", help="database URL (default: SQLite in a temp folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="give up on grades after this long"
    )
    args = parser.parse_args(argv)
    files = sorted(CLASS.glob("*/losses.py"))
    rng = random.Random(args.seed)
    out = Path(tempfile.mkdtemp(prefix="propgrade-bench-serve-"))
    students = [f"student{n:03d}" for n in range(args.students)]
    (out / "roster.csv").write_text("student\n" + "\n".join(students) + "\n")
    env = {**os.environ}
    if args.db:
        env["PROPGRADE_DB"] = args.db
    propgrade = [sys.executable, "-m", "propgrade.cli"]
    subprocess.run(
        [*propgrade, "serve", "roster", str(out / "roster.csv"), "--out", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tokens = {}
    for line in (out / "tokens.csv").read_text().splitlines()[1:]:
        fields = line.split(",")
        tokens[fields[0]] = fields[3]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (out / "server.log").open("wb")
    command = [*propgrade, "serve", "-a", args.assignment, "--out", str(out)]
    command += ["--port", str(port), "--jobs", str(args.jobs), "--quiet"]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=5).close()
                break
            except OSError:
                assert server.poll() is None, (out / "server.log").read_text()
                time.sleep(0.2)
        # Let the grading processes prepare the assignment before the burst.
        time.sleep(5.0)
        start = time.monotonic()
        deadline = start + args.seconds + args.timeout
        outcomes = [Outcome(s) for s in students]
        threads = []
        for n, outcome in enumerate(outcomes):
            content = files[n % len(files)].read_bytes() + f"\n# {outcome.student}\n".encode()
            at = start + rng.uniform(0, args.seconds)
            thread = threading.Thread(
                target=_student,
                args=(base, outcome, tokens[outcome.student], content, at, deadline),
            )
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        drained = time.monotonic() - start
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    accepted = [o for o in outcomes if o.accepted]
    lost = [o for o in accepted if o.latency is None or not o.feedback_ok]
    never = [o for o in outcomes if not o.accepted]
    latencies = sorted(o.latency for o in accepted if o.latency is not None)
    print(f"students: {args.students} in a {args.seconds:g} s burst; {args.jobs} grading processes")
    print(f"accepted: {len(accepted)}")
    print(f"refused-with-retry: {sum(o.refused for o in outcomes)}")
    print(f"lost: {len(lost)}")
    if never:
        print(f"never accepted: {len(never)} (e.g. {never[0].error})")
    if latencies:
        p50 = statistics.median(latencies)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        print(f"upload-to-feedback: p50 {p50:.1f} s, p95 {p95:.1f} s, max {latencies[-1]:.1f} s")
    print(f"all graded {drained:.0f} s after the burst began")
    for o in lost[:5]:
        print(f"lost {o.student}: {o.error}")
    shutil.rmtree(out, ignore_errors=True)
    return 1 if lost or never else 0


if __name__ == "__main__":
    sys.exit(main())

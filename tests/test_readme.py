"""The README's example output is what the README's main command prints on the demo class,
and its test command is the one CI runs."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from propgrade.cli import main

ROOT = Path(__file__).resolve().parent.parent
MAIN_COMMAND = (
    ".venv/bin/propgrade grade examples/submissions --assignment linear_classifiers --out out/demo"
)


@pytest.mark.sandbox  # grades the demo class
def test_readme_example_output_is_what_the_demo_gives(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert MAIN_COMMAND in readme  # the quick start still runs this very command
    found = re.search(r"for\nevery failed check, for example:\n\n```\n(.*?)\n```", readme, re.S)
    assert found is not None, "the README no longer shows an example of a failed check"
    example = found.group(1)

    argv = ["grade", str(ROOT / "examples" / "submissions"), "-a", "linear_classifiers"]
    argv += ["-o", str(tmp_path), "-j", "2", "-c", str(ROOT / "grading.yaml")]
    assert main(argv, out=io.StringIO(), err=io.StringIO()) == 0
    shown = [
        f"{test['name']}\n{test['output']}"
        for path in sorted(tmp_path.glob("*/results.json"))
        for test in json.loads(path.read_text())["tests"]
    ]
    assert example in shown


def test_ci_runs_the_readmes_test_command_word_for_word() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"Run the tests:\n\n    (.+)\n", readme)
    assert found is not None, "the README no longer shows how to run the tests"
    command = found.group(1)
    assert "'.[dev,dask]'" in command  # tests/test_dask.py needs Dask, as CI has it
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci.splitlines()


@pytest.mark.sandbox  # a real propgrade serve grades alice's file
def test_readme_serve_recipe_starts_the_service_and_submits(tmp_path: Path) -> None:
    """The README's two commands, word for word but for the port and the output folder
    (a developer's own out/serve may be in use): one starts the service on the demo
    class, the other submits alice's file and prints the score and the page."""
    import os
    import shlex
    import subprocess
    import sys
    import time
    import urllib.request

    sys.path.insert(0, str(ROOT / "tests"))
    from serve_helpers import free_port

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = re.search(r"\n    (\.venv/bin/propgrade serve roster .+)\n", readme)
    submit = re.search(r"\n    (PROPGRADE_TOKEN=.+ --server http://127\.0\.0\.1:8000)\n", readme)
    assert start is not None and submit is not None, "the README's serve recipe moved"
    port = free_port()
    propgrade = f"{shlex.quote(sys.executable)} -m propgrade.cli"

    def adapted(command: str) -> str:
        command = command.replace(".venv/bin/propgrade", propgrade)
        command = command.replace("out/serve", shlex.quote(str(tmp_path / "serve")))
        return command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")

    serve = adapted(start.group(1)) + f" --port {port}"
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        serve, shell=True, cwd=ROOT, stdout=log, stderr=log, start_new_session=True
    )
    try:
        for _ in range(1200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).close()
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        done = subprocess.run(
            adapted(submit.group(1)),
            shell=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
        log.close()
    assert done.returncode == 0, done.stderr
    assert re.search(r"^score: 44 / 44 so far \(visible checks only\)$", done.stdout, re.M)
    assert f"feedback: http://127.0.0.1:{port}/s/" in done.stdout

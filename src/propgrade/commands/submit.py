"""``propgrade submit FILE --server URL``: hand a file to ``propgrade serve`` and wait for
its score.

Uses only the standard library, so a student needs nothing beyond propgrade itself. The
token comes from $PROPGRADE_TOKEN or a file, never from the command line, where other
users of the machine and the shell's history would see it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO

from propgrade.errors import PropgradeError

TOKEN_ENV = "PROPGRADE_TOKEN"
SERVER_ENV = "PROPGRADE_SERVER"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``submit FILE --server URL [--token-file PATH]``."""
    submit = sub.add_parser(
        "submit",
        help="submit a file to a propgrade serve service and print its score",
        description="Upload FILE (the graded file or your notebook) to the course's "
        "propgrade serve, wait until it is graded, then print the score and the address of "
        f"the feedback page. The token is read from ${TOKEN_ENV} or --token-file.",
        epilog="example:\n"
        f"  {TOKEN_ENV}=... propgrade submit losses.py --server https://grader.example.edu",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    submit.add_argument("file", type=Path, help="the file to submit")
    submit.add_argument(
        "--server",
        default=os.environ.get(SERVER_ENV),
        help=f"the service's address (default: ${SERVER_ENV})",
    )
    submit.add_argument(
        "--token-file", type=Path, help=f"a file holding your token (default: ${TOKEN_ENV})"
    )
    submit.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds to wait for the grade (default: %(default)s)",
    )
    submit.add_argument(
        "--no-wait", dest="wait", action="store_false", help="do not wait for the grade"
    )


class _Refused(PropgradeError):
    pass


def _token(args: argparse.Namespace) -> str:
    if args.token_file is not None:
        try:
            token: str = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PropgradeError(
                f"{args.token_file}: cannot read the token: {exc.strerror}"
            ) from None
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise PropgradeError(
            "no token", hint=f"set ${TOKEN_ENV} or pass --token-file with the token you were sent"
        )
    return token


def _call(request: urllib.request.Request, timeout: float = 60.0) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        message = body.get("error") or exc.reason
        retry = exc.headers.get("Retry-After")
        hint = f"the server asks to retry in {retry} s" if retry else None
        raise _Refused(f"the server refused: {exc.code} {message}", hint=hint) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PropgradeError(f"cannot reach {request.full_url}: {reason}") from None


def _multipart(path: Path, data: bytes) -> tuple[bytes, str]:
    boundary = "propgrade-" + secrets.token_hex(16)
    name = path.name.replace('"', "").replace("\r", "").replace("\n", "")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not args.server:
        raise PropgradeError("no server given", hint=f"pass --server URL or set ${SERVER_ENV}")
    server = args.server.rstrip("/")
    token = _token(args)
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise PropgradeError(f"{args.file}: cannot read: {exc.strerror}") from None
    body, boundary = _multipart(args.file, data)
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(
        f"{server}/api/submissions",
        data=body,
        method="POST",
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    _, view = _call(request)
    if not view.get("new", True):
        print("the same file was submitted before: showing that attempt", file=err)
    else:
        print(f"submitted {args.file.name}; waiting for the grade...", file=err, flush=True)
    deadline = time.monotonic() + args.timeout
    while args.wait and view.get("status") != "done":
        if time.monotonic() > deadline:
            print(f"not graded yet after {args.timeout:g} s; see {server}{view['page']}", file=out)
            return 1
        time.sleep(1.0)
        _, view = _call(
            urllib.request.Request(f"{server}/api/submissions/{view['id']}", headers=headers)
        )
    if view.get("status") == "done":
        so_far = "" if view.get("complete") else " so far (visible checks only)"
        print(f"score: {view['score']:g} / {view['max_score']:g}{so_far}", file=out)
        if view.get("late"):
            print(f"late: {view['late']}", file=out)
        print(f"feedback: {server}{view['feedback']}", file=out)
    else:
        print(f"received; status: {view.get('status')}; see {server}{view['page']}", file=out)
    return 0

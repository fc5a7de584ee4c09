"""``propgrade doctor``: which sandbox layer grading uses here, or on each Dask worker."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from propgrade import isolation
from propgrade.config import CONFIG_NAME, find_course_config, load_course
from propgrade.doctor import diagnose, render
from propgrade.engine.grading import prepare
from propgrade.errors import PropgradeError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``doctor [--dask ADDRESS [--config FILE]]``."""
    doc = sub.add_parser(
        "doctor",
        help="show which sandbox layer grading uses here, and how to get the full one",
        description="Probe this machine: bubblewrap, namespaces, uid drop, numpy in the "
        "worker. Exit status 0 when the full sandbox layer is active, 1 otherwise. With "
        "--dask, ask every worker of that cluster instead: its sandbox layer, versions and "
        "course fingerprint; exit status 0 when every worker would grade like this machine.",
    )
    doc.add_argument("--dask", metavar="ADDRESS", help="a Dask scheduler address, or local:N")
    doc.add_argument(
        "--config",
        "-c",
        type=Path,
        help=f"with --dask: the course file to compare (default: nearest {CONFIG_NAME})",
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.dask is not None:
        return _run_dask(args, out, err)
    if args.config is not None:
        raise PropgradeError("--config applies only with --dask ADDRESS")
    report = diagnose()
    print(render(report), file=out)
    return 0 if report.layer == isolation.FULL else 1


def _run_dask(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from propgrade.integrations.dask_cluster import DaskCluster, render_workers

    path = args.config or find_course_config(Path.cwd())
    plans = []
    if path is not None:
        plans = [prepare(a) for a in load_course(path).assignments.values()]
    with DaskCluster(args.dask) as cluster:
        if plans:
            reports = [cluster.identify_workers(plan) for plan in plans]
        else:
            reports = [cluster.identify_workers(None)]
        text, ok = render_workers(cluster.address, cluster.sandbox, plans, reports)
    print(text, file=out, end="")
    if path is None:
        print(f"note: no {CONFIG_NAME} found: course fingerprints not compared", file=err)
    return 0 if ok else 1

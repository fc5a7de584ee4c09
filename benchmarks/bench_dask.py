"""The cluster path's cost: the same class graded with `--jobs 2` and with `--dask local:2`.

    python benchmarks/bench_dask.py                 # 400 submissions
    python benchmarks/bench_dask.py --size 100 --machines 1,4,16,64 --cores 8
    python benchmarks/bench_dask.py --rounds 2     # alternated twice, means printed

Both gradings run in fresh processes, one after the other, each from an empty output
folder, through `grade_batch` as `propgrade grade` calls it. It prints both rates (the
grading itself, and the whole run with start-up), the extra time per submission the
cluster path costs, and then, from the cluster run's own measurements, a projection to N
machines with its assumptions.

On a 2-core machine both paths grade two submissions at a time, so their rates should
be about equal: what can be measured here is the overhead, not a speed-up. The machine
may be shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_throughput import build_class, load  # noqa: E402

ASSIGNMENT = "linear_classifiers"
PROBE_TASKS = 400


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _one(mode: str, klass: Path, out: Path) -> dict[str, Any]:
    """One grading, in this (fresh) process; what the parent prints comes from here."""
    import warnings

    from propgrade.batch import discover, grade_batch
    from propgrade.config import load_course
    from propgrade.engine.grading import prepare

    warnings.simplefilter("ignore")
    started = time.perf_counter()
    plan = prepare(load_course(ROOT / "grading.yaml").assignment(ASSIGNMENT))
    submissions = discover(klass)
    figures: dict[str, Any] = {"prepare": time.perf_counter() - started}
    if mode == "jobs":
        cpu = _cpu()
        began = time.perf_counter()
        report = grade_batch(plan, submissions, out, jobs=2, resume=False)
        figures["grading"] = time.perf_counter() - began
        figures["client_cpu"] = _cpu() - cpu
    else:
        from propgrade.integrations.dask_cluster import DaskCluster

        figures["intake"] = _intake_seconds(plan, submissions)
        with DaskCluster("local:2") as cluster:
            figures["cluster_start"] = time.perf_counter() - started - figures["prepare"]
            began = time.perf_counter()
            cluster.check_workers(plan)  # each worker builds and checks its plan
            figures["worker_plans"] = time.perf_counter() - began
            cpu = _cpu()
            began = time.perf_counter()
            report = grade_batch(plan, submissions, out, resume=False, grader=cluster.grade)
            figures["grading"] = time.perf_counter() - began
            figures["client_cpu"] = _cpu() - cpu
            figures["task_overhead"] = _task_overhead(cluster.client)
    figures["total"] = time.perf_counter() - started
    figures["load"] = f"{os.getloadavg()[0]:.2f}"
    figures["worker_seconds"] = [r.seconds for r in report.graded]
    figures["grades_csv"] = report.grades_csv.read_text()
    return figures


def _intake_seconds(plan: Any, submissions: list[Any]) -> float:
    """The client's own work per submission before sending it: the hostile-folder intake."""
    from propgrade.intake.submission import take_in

    began = time.perf_counter()
    for submission in submissions:
        with tempfile.TemporaryDirectory() as tmp:
            a = plan.assignment
            take_in(
                submission.folder, a.graded_file, Path(tmp), plan.limits.file_bytes, a.functions
            )
            (Path(tmp) / a.graded_file).read_bytes()
    return (time.perf_counter() - began) / len(submissions)


def _echo(data: bytes) -> str:
    return json.dumps({"bytes": len(data)})


def _task_overhead(client: Any) -> float:
    """Seconds per task of a batch of do-nothing tasks shaped like a grading (a few KB
    of bytes in, a little JSON out): the scheduler's and the transport's share."""
    payload = (ROOT / "solutions" / ASSIGNMENT / "losses.py").read_bytes()
    client.gather([client.submit(_echo, payload, pure=False) for _ in range(20)])
    began = time.perf_counter()
    futures = [client.submit(_echo, payload, pure=False) for _ in range(PROBE_TASKS)]
    client.gather(futures)
    return (time.perf_counter() - began) / PROBE_TASKS


def _run(mode: str, klass: Path, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--_one", mode, str(klass), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {mode} run failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=400, help="submissions in the class")
    parser.add_argument(
        "--machines", default="1,2,4,8,16,32,64", help="machine counts for the projection"
    )
    parser.add_argument(
        "--cores", type=int, default=os.cpu_count() or 1, help="cores per projected machine"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the two gradings this many times"
    )
    parser.add_argument("--_one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._one:
        mode, klass, out = args._one
        print(json.dumps(_one(mode, Path(klass), Path(out))))
        return

    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        base = Path(tmp)
        build_class(base / "class", args.size)
        print(f"class: {args.size} submissions from the fixture corpus; {load()}")
        runs: dict[str, list[dict[str, Any]]] = {"jobs": [], "dask": []}
        # Alternated, so that a neighbour's burst of work weighs on both paths alike.
        for round_ in range(args.rounds):
            for mode, label in (("jobs", "--jobs 2"), ("dask", "--dask local:2")):
                runs[mode].append(_run(mode, base / "class", base / f"{mode}{round_}"))
                print(f"{label} done ({runs[mode][-1]['grading']:.1f}s grading); {load()}")
    report(args, _merged(runs["jobs"]), _merged(runs["dask"]))


def _merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the rounds; every submission's grading time; the grades if all agree."""
    merged: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, float):
            merged[key] = statistics.mean(r[key] for r in runs)
        elif isinstance(value, list):
            merged[key] = [x for r in runs for x in r[key]]
        else:
            merged[key] = value if all(r[key] == value for r in runs) else "differs"
    merged["load"] = " ".join(r["load"] for r in runs)
    return merged


def report(args: argparse.Namespace, jobs: dict[str, Any], dask: dict[str, Any]) -> None:
    n = args.size
    print(f"\n{args.rounds} round(s) of each, alternated; figures are means over the rounds")
    same = "identical" if jobs["grades_csv"] == dask["grades_csv"] else "DIFFERENT"
    print()
    print(f"grades.csv of the two runs: {same}")
    print(f"{'':24}{'--jobs 2':>12}{'--dask local:2':>16}")
    print(f"{'load after (1 min)':24}{jobs['load']:>12}{dask['load']:>16}")
    for label, key in (("prepare (client)", "prepare"), ("grading", "grading")):
        print(f"{label:24}{jobs[key]:>11.1f}s{dask[key]:>15.1f}s")
    print(f"{'cluster start':24}{'-':>12}{dask['cluster_start']:>15.1f}s")
    print(f"{'plans on the workers':24}{'-':>12}{dask['worker_plans']:>15.1f}s")
    print(f"{'whole run':24}{jobs['total']:>11.1f}s{dask['total']:>15.1f}s")
    rate_jobs, rate_dask = n / jobs["grading"], n / dask["grading"]
    print(f"{'rate (grading)':24}{rate_jobs:>10.2f}/s{rate_dask:>14.2f}/s")
    whole_jobs, whole_dask = n / jobs["total"], n / dask["total"]
    print(f"{'rate (whole run)':24}{whole_jobs:>10.2f}/s{whole_dask:>14.2f}/s")
    in_jobs = statistics.mean(jobs["worker_seconds"])
    in_dask = statistics.mean(dask["worker_seconds"])
    print(f"{'one submission, graded':24}{1000 * in_jobs:>10.0f}ms{1000 * in_dask:>14.0f}ms")
    print(
        f"{'client CPU / submission':24}{1000 * jobs['client_cpu'] / n:>10.1f}ms"
        f"{1000 * dask['client_cpu'] / n:>14.1f}ms"
        "  (local:2 runs the scheduler in the client)"
    )
    extra = (dask["grading"] - jobs["grading"]) / n
    print(
        f"overhead of the cluster path: {1000 * extra:+.1f} ms wall per submission while "
        f"grading ({100 * (dask['grading'] / jobs['grading'] - 1):+.1f}%), i.e. "
        f"{2000 * extra:+.1f} ms of a worker slot; plus "
        f"{dask['cluster_start'] + dask['worker_plans']:.1f}s once to start the cluster and "
        "build the workers' plans"
    )
    print(
        f"  split: {1000 * (in_dask - in_jobs):+.0f} ms per submission in the grading itself "
        "(the same engine on both paths, so this part is contention: the scheduler, the "
        "client and other users' work share the 2 cores; see the load), and "
        f"{1000 * (2 * extra - (in_dask - in_jobs)):+.0f} ms of a worker slot for the rest "
        "(transport, scheduling, waiting for results)"
    )

    # -- projection ------------------------------------------------------------------
    per_task = dask["task_overhead"]
    busy = statistics.mean(dask["worker_seconds"])
    per_worker = 1 / busy if busy else float("inf")
    # Local mode runs the scheduler inside the client process, so the client's CPU time
    # of that run counts the scheduler too; the client's own share is the intake plus
    # storing the results, which the --jobs run's client does alone.
    client = dask["intake"] + jobs["client_cpu"] / n
    print()
    print("projection to N machines (from the --dask run's own figures):")
    print(
        f"  measured: a worker grades a submission in {busy * 1000:.0f} ms on average "
        f"({per_worker:.2f}/s per worker process, here with 2 workers on 2 shared cores); "
        f"the scheduler round trip of a do-nothing task of the same shape costs "
        f"{per_task * 1000:.2f} ms ({1 / per_task:.0f} tasks/s); the client spends "
        f"{client * 1000:.1f} ms per submission ({dask['intake'] * 1000:.1f} ms intake, "
        f"{jobs['client_cpu'] / n * 1000:.1f} ms storing the result)"
    )
    ceiling = min(1 / per_task, 1 / client if client else float("inf"))
    print(
        f"  rate(N) = min(N x {args.cores} workers x {per_worker:.2f}/s, "
        f"{ceiling:.0f}/s)   [the last term: scheduler and client, whichever is slower]"
    )
    print(f"  {'machines':>8}  {'workers':>7}  {'submissions/s':>13}  {'10,000 subs':>11}  bound")
    for machines in [int(m) for m in args.machines.split(",")]:
        workers = machines * args.cores
        compute = workers * per_worker
        rate = min(compute, ceiling)
        bound = "workers" if compute <= ceiling else "scheduler/client"
        minutes = 10_000 / rate / 60
        print(f"  {machines:>8}  {workers:>7}  {rate:>13.1f}  {minutes:>9.1f} m  {bound}")
    print(
        "  assumptions: one single-threaded worker process per core, each as fast as one "
        "worker here (a core of this machine; a shared core makes the per-worker figure "
        "pessimistic); the in-flight window hides network latency; workers on separate "
        "machines do not slow each other; scheduler and client each have a core of their "
        "own and their per-task costs stay flat as workers grow (Dask's documentation "
        "puts its scheduler at about 1 ms per task; the probe above measures it here); "
        "start-up (cluster, plan per worker: a few seconds) and stragglers at the end "
        "are left out."
    )


if __name__ == "__main__":
    main()

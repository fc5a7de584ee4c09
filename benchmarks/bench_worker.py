"""Round-trip cost of calls into a warm worker, and the cost of starting one, per layer.

Run: PYTHONPATH=src python3 benchmarks/bench_worker.py [--layer reduced|full|both|default]
[--zygote on|off|both]. With ``--zygote both`` (the default) workers are started both ways:
forked from the layer's zygote, and as a new interpreter (``PROPGRADE_ZYGOTE=0``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from propgrade.sandbox import bwrap_layer, layer_choice, layers, process_layer
from propgrade.sandbox.calls import Call, Limits
from propgrade.sandbox.worker import Worker
from propgrade.sandbox.zygote import ZYGOTE_ENV

STUDENT = """
import numpy as np

def svm_loss_vectorized(W, X, y, reg):
    N = X.shape[0]
    S = X @ W
    margins = np.maximum(0, S - S[np.arange(N), y][:, None] + 1)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N + reg * np.sum(W * W)
    mask = (margins > 0).astype(X.dtype)
    mask[np.arange(N), y] = -mask.sum(axis=1)
    dW = X.T @ mask / N + 2 * reg * W
    return loss, dW
"""

LIMITS = Limits(call_seconds=5.0, submission_seconds=3600.0)


def calls_per_second(worker: Worker, batch: int, total: int) -> float:
    rng = np.random.default_rng(0)
    W, X = rng.normal(size=(20, 5)), rng.normal(size=(16, 20))
    y = rng.integers(0, 5, size=16)
    calls = [Call("svm_loss_vectorized", (W, X, y, 0.1))] * batch
    worker.run(calls)  # warm-up
    started = time.perf_counter()
    for _ in range(total // batch):
        outcomes = worker.run(calls)
        assert all(outcome.ok for outcome in outcomes)
    return (total // batch) * batch / (time.perf_counter() - started)


def starts_per_second(graded: Path, count: int, layer: layers.Layer) -> float:
    started = time.perf_counter()
    for _ in range(count):
        with Worker(graded, LIMITS, layer=layer) as worker:
            assert worker.start().ok
    return count / (time.perf_counter() - started)


def layers_to_measure(choice: str, zygote: bool) -> list[layers.Layer]:
    if choice == "default":
        with patched_env(ZYGOTE_ENV, "1" if zygote else "0"):
            return [layer_choice.default_layer()]
    chosen: list[layers.Layer] = []
    if choice in ("reduced", "both"):
        chosen.append(process_layer.ProcessLayer(zygote=zygote))
    if choice in ("full", "both"):
        chosen.append(bwrap_layer.BwrapLayer(zygote=zygote))
    return chosen


@contextlib.contextmanager
def patched_env(key: str, value: str) -> Iterator[None]:
    old = os.environ.get(key)
    os.environ[key] = value
    try:
        yield
    finally:
        if old is None:
            del os.environ[key]
        else:
            os.environ[key] = old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layer", choices=["reduced", "full", "both", "default"], default="both")
    parser.add_argument("--zygote", choices=["on", "off", "both"], default="both")
    parser.add_argument("--starts", type=int, default=20, help="workers started and closed")
    args = parser.parse_args()
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.zygote]
    with tempfile.TemporaryDirectory() as tmp:
        graded = Path(tmp) / "losses.py"
        graded.write_text(STUDENT)
        for zygote in modes:
            for layer in layers_to_measure(args.layer, zygote):
                how = "forked from the zygote" if zygote else "started by exec"
                with Worker(graded, LIMITS, layer=layer) as worker:
                    assert worker.start().ok  # also starts the zygote, outside the timing
                    single = calls_per_second(worker, batch=1, total=2000)
                    batched = calls_per_second(worker, batch=500, total=20_000)
                starts = starts_per_second(graded, args.starts, layer)
                problem = getattr(layer, "zygote_problem", None)
                if zygote and problem:
                    how = f"zygote unavailable, started by exec: {problem}"
                print(f"[{layer.name}, {how}]")
                print(f"  batch of 1:   {single:9.0f} calls/s  ({1e6 / single:6.1f} us per call)")
                print(f"  batch of 500: {batched:9.0f} calls/s  ({1e6 / batched:6.1f} us per call)")
                print(
                    f"  start+close:  {starts:9.1f} workers/s ({1e3 / starts:6.1f} ms per worker)"
                )


if __name__ == "__main__":
    main()

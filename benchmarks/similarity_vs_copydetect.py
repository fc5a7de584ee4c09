"""The measurement behind propgrade's own similarity scoring: the same planted copies and
independent solutions (tests/similarity_corpus.py) scored by the ``copydetect`` package
(0.5.0, winnowing on pygments tokens, the score of a pair the larger of the two shares of
copied tokens), per file as it works, and per graded function as well (each function
fingerprinted on its own, the pair taking its best part, as propgrade does). The released
stub is its boilerplate.

For each it prints the lowest planted pair's score, the highest independent pair's, the
margin between them, and how many independent pairs reach copydetect's own display
threshold (0.33). Needs ``pip install copydetect`` (not a dependency of propgrade). Its
k-gram hashes are Python's ``hash()``: the script runs with PYTHONHASHSEED=0 unless one is
set, and the rows with a window of 4 move by a few hundredths from seed to seed.

    python benchmarks/similarity_vs_copydetect.py
"""

from __future__ import annotations

import ast
import itertools
import os
import sys
import tempfile
from pathlib import Path

from copydetect import CodeFingerprint, compare_files

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from similarity_corpus import ASSIGNMENTS, assignment_config, class_folders, measure  # noqa: E402

DISPLAY = 0.33  # copydetect's default display_t


def _parts(path: Path, functions: tuple[str, ...], scratch: Path) -> dict[str, Path]:
    source = path.read_text()
    parts = {"file": path}
    for node in ast.walk(ast.parse(source)):  # methods too (knn's are a class's)
        if isinstance(node, ast.FunctionDef) and node.name in functions:
            target = scratch / f"{path.parent.name}.{node.name}.py"
            target.write_text(ast.get_source_segment(source, node) or "")
            parts[node.name] = target
    return parts


def copydetect_scores(name: str, k: int, w: int, per_function: bool) -> dict[frozenset[str], float]:
    assignment = assignment_config(name)
    folders = class_folders(name)
    stub = assignment.release / assignment.graded_file  # type: ignore[operator]
    boiler = list(CodeFingerprint(str(stub), k, w).hashes)
    with tempfile.TemporaryDirectory() as tmp:
        prints = {}
        for student, folder in folders:
            parts = _parts(folder / assignment.graded_file, assignment.functions, Path(tmp))
            if not per_function:
                parts = {"file": parts["file"]}
            prints[student] = {
                unit: CodeFingerprint(str(p), k, w, boilerplate=boiler) for unit, p in parts.items()
            }
    scores = {}
    for (a, fa), (b, fb) in itertools.combinations(prints.items(), 2):
        best = 0.0
        for unit in fa.keys() & fb.keys():
            _, (s1, s2), _ = compare_files(fa[unit], fb[unit])
            best = max(best, s1, s2)
        scores[frozenset((a, b))] = best
    return scores


def main() -> int:
    if os.environ.get("PYTHONHASHSEED") is None:
        # copydetect hashes k-grams with Python's salted hash(): with a window above 1 the
        # fingerprints it keeps, and so its scores, change from run to run. A fixed seed
        # makes a run repeatable; PYTHONHASHSEED=N python ... shows another seed's figures.
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    print(f"copydetect's hash seed: PYTHONHASHSEED={os.environ['PYTHONHASHSEED']}")
    for name in ASSIGNMENTS:
        ours = measure(name)
        print(ours.summary(name).replace(f"{name}:", f"{name} propgrade:"))
        for (k, w), per_function in itertools.product(((25, 1), (10, 4)), (False, True)):
            scores = copydetect_scores(name, k, w, per_function)
            planted = [scores[frozenset(p)] for p in ours.planted]
            independent = [scores[frozenset(p)] for p in ours.independent]
            over = sum(1 for s in independent if s >= DISPLAY)
            how = "per file and function" if per_function else "per file"
            print(
                f"{name} copydetect k={k} w={w} {how}: lowest planted {min(planted):.3f}, "
                f"highest independent {max(independent):.3f}, margin "
                f"{min(planted) - max(independent):+.3f}, independent pairs at >= {DISPLAY}: "
                f"{over}/{len(independent)}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What a grade depends on, as digests and versions: equal fingerprints give equal grades.

A stored result is kept (``--resume``) and a Dask worker is trusted only when these match:
propgrade's and Hypothesis's versions (another Hypothesis may draw other examples from the
same seed), the course config, the seed, the graders, the reference and the graded file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import hypothesis

import propgrade
from propgrade.config import AssignmentConfig

FINGERPRINT_KEYS = (
    "propgrade_version",
    "hypothesis_version",
    "config_hash",
    "hypothesis_seed",
    "graders_hash",
    "reference_hash",
    "file_sha256",
)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def graders_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def plan_fingerprint(assignment: AssignmentConfig, *, with_reference: bool) -> dict[str, Any]:
    """Every fingerprint key but the graded file's (``file_sha256``), for one assignment.

    ``with_reference``: the checks use the reference, whose digest then counts.
    """
    reference = assignment.reference_file
    return {
        "propgrade_version": propgrade.__version__,
        "hypothesis_version": hypothesis.__version__,
        "config_hash": assignment.digest,
        "hypothesis_seed": assignment.hypothesis.seed,
        "graders_hash": graders_digest(assignment.graders),
        "reference_hash": file_digest(reference)[:16]
        if with_reference and reference is not None
        else "",
    }

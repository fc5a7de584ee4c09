"""What several subcommands share: finding the course file's assignment."""

from __future__ import annotations

from pathlib import Path

from propgrade.config import CONFIG_NAME, AssignmentConfig, find_course_config, load_course
from propgrade.errors import PropgradeError


def course_assignment(config: Path | None, name: str) -> AssignmentConfig:
    path = config or find_course_config(Path.cwd())
    if path is None:
        raise PropgradeError(
            f"no {CONFIG_NAME} found in {Path.cwd()} or its parents",
            hint=f"run from the course folder or pass --config path/to/{CONFIG_NAME}",
        )
    return load_course(path).assignment(name)

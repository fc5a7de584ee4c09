"""Typed errors raised by the library; only the CLI turns them into printed messages."""

from __future__ import annotations


class PropgradeError(Exception):
    """Base class for every error propgrade raises on purpose.

    ``hint`` is a short suggestion of what to do next, shown by the CLI after the message.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(PropgradeError):
    """grading.yaml (or a released assignment.yaml) is missing, malformed or inconsistent."""


class GraderError(PropgradeError):
    """A grader module could not be loaded or defines something invalid."""


class ReleaseError(PropgradeError):
    """The student release could not be generated from the solution."""


class WorkerError(PropgradeError):
    """The grader could not start or talk to a worker, for a reason not caused by the student."""


class SubmissionProblem(PropgradeError):
    """A submission that cannot be graded as handed in; the message is meant for the student."""

"""propgrade: property-based autograding for numerical exercises.

This module is the whole public API for grader authors: graders import from ``propgrade``
and nothing deeper (a test holds them to it). Everything else is internal.
"""

from propgrade.engine import expect
from propgrade.engine.checks import (
    Check,
    CheckFailed,
    CheckGroup,
    StudentCallFailed,
    assume,
    check,
    check_each,
)
from propgrade.engine.display import format_array, format_value
from propgrade.engine.frozen import frozen
from propgrade.engine.shrinking import Shrink
from propgrade.errors import ConfigError, GraderError, PropgradeError
from propgrade.sandbox.calls import Unsupported

__version__ = "0.1.0"

__all__ = [
    "Check",
    "CheckFailed",
    "CheckGroup",
    "ConfigError",
    "GraderError",
    "PropgradeError",
    "Shrink",
    "StudentCallFailed",
    "Unsupported",
    "__version__",
    "assume",
    "check",
    "check_each",
    "expect",
    "format_array",
    "format_value",
    "frozen",
]

"""propgrade: property-based autograding for numerical exercises.

The public API for grader authors is re-exported here; everything else is internal.
"""

from propgrade.calls import Unsupported
from propgrade.checks import (
    Check,
    CheckFailed,
    CheckGroup,
    StudentCallFailed,
    assume,
    check,
    check_each,
)
from propgrade.errors import ConfigError, GraderError, PropgradeError

__version__ = "0.1.0"

__all__ = [
    "Check",
    "CheckFailed",
    "CheckGroup",
    "ConfigError",
    "GraderError",
    "PropgradeError",
    "StudentCallFailed",
    "Unsupported",
    "__version__",
    "assume",
    "check",
    "check_each",
]

"""Late submissions: when a submission was made, and what the late policy takes off.

The penalty is kept apart from the score everywhere it is shown (nbgrader's
``late_submission_penalty``, the feedback, the LMS CSV), so a student and an instructor
can always see the raw score, the penalty and the final score.
"""

from __future__ import annotations

import math
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from propgrade.config import LatePolicy
from propgrade.errors import PropgradeError

TIMESTAMP_NAME = "timestamp.txt"  # nbgrader's name, also read by `propgrade grade`
_DAY = 86400.0


class TimestampError(PropgradeError):
    """A timestamp.txt that cannot be read as a date and time."""


def parse_timestamp(text: str) -> datetime:
    """A submission time as nbgrader writes it, in UTC.

    nbgrader writes ``2026-11-30 12:00:00.000000 UTC`` (``%Y-%m-%d %H:%M:%S.%f %Z``);
    ISO 8601 and a trailing numeric offset (``+0100``) or zone name are read too. A time
    without any zone is taken as UTC, as nbgrader does.
    """
    value = text.strip()
    if not value:
        raise TimestampError("the timestamp is empty")
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        head, _, zone = value.rpartition(" ")
        if head:
            try:
                parsed = datetime.fromisoformat(head).replace(tzinfo=_zone(zone))
            except (ValueError, zoneinfo.ZoneInfoNotFoundError):
                parsed = None
    if parsed is None:
        raise TimestampError(f"not a date and time: {value[:60]!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _zone(name: str) -> timezone | zoneinfo.ZoneInfo:
    if name.upper() in ("UTC", "GMT", "Z"):
        return UTC
    if len(name) == 5 and name[0] in "+-" and name[1:].isdigit():
        minutes = int(name[1:3]) * 60 + int(name[3:])
        return timezone(timedelta(minutes=minutes if name[0] == "+" else -minutes))
    if not name or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"unknown time zone {name!r}")
    return zoneinfo.ZoneInfo(name)


def read_timestamp(folder: Path) -> datetime | None:
    """The time in ``folder/timestamp.txt``; None if there is no such file."""
    path = folder / TIMESTAMP_NAME
    if not path.is_file():
        return None
    try:
        return parse_timestamp(path.read_text(encoding="utf-8", errors="replace")[:200])
    except TimestampError as exc:
        raise TimestampError(f"{path}: {exc.message}") from None


@dataclass(frozen=True)
class Lateness:
    submitted: datetime | None
    due: datetime | None
    days_late: int  # started days past the due date; 0 when on time or unknown
    fraction: float  # of the raw score that is taken off
    accepted: bool = True

    def penalty(self, raw_score: float) -> float:
        return round(max(raw_score, 0.0) * self.fraction, 4)

    def describe(self) -> str:
        if self.due is None:
            return "no due date"
        if self.submitted is None:
            return "submission time unknown: no late penalty"
        if self.days_late == 0:
            return "on time"
        day_word = "day" if self.days_late == 1 else "days"
        if not self.accepted:
            return f"{self.days_late} {day_word} late: past the last accepted day, score 0"
        return f"{self.days_late} {day_word} late: {round(self.fraction * 100, 2):g}% off"


def assess(submitted: datetime | None, due: datetime | None, policy: LatePolicy | None) -> Lateness:
    """How late ``submitted`` is for ``due``, and the fraction ``policy`` takes off."""
    if due is None or submitted is None:
        return Lateness(submitted, due, 0, 0.0)
    seconds = (submitted - due).total_seconds()
    if seconds <= 0:
        return Lateness(submitted, due, 0, 0.0)
    days = math.ceil(seconds / _DAY)
    if policy is None:
        return Lateness(submitted, due, days, 0.0)
    if days > policy.max_days:
        return Lateness(submitted, due, days, 1.0, accepted=False)
    return Lateness(submitted, due, days, round(min(1.0, days * policy.per_day), 6))

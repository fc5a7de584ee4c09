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

from propgrade.config import UNKNOWN_TIME_LATE, UNKNOWN_TIME_ON_TIME, LatePolicy
from propgrade.errors import PropgradeError
from propgrade.intake.untrusted_files import FileRefused, read_beneath

TIMESTAMP_NAME = "timestamp.txt"  # nbgrader's name, also read by `propgrade grade`
TIMESTAMP_MAX_BYTES = 1024  # nbgrader writes about 30
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
    try:
        return _parse(value)
    except TimestampError:
        raise
    except Exception as exc:
        # The text is the student's: whatever it makes the parser raise (a time past year
        # 9999 in UTC, a zone name that is a tzdata folder or longer than a file name)
        # is this timestamp's problem, never the batch's.
        raise TimestampError(
            f"not a usable date and time: {value[:60]!r} ({type(exc).__name__})"
        ) from None


def _parse(value: str) -> datetime:
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
    """The time in ``folder/timestamp.txt``; None if there is no such file.

    The folder is a submission: the file is read as untrusted (no link followed, a
    regular file of at most ``TIMESTAMP_MAX_BYTES``), and ``TimestampError`` says why
    when it cannot be used.
    """
    try:
        data = read_beneath(folder, TIMESTAMP_NAME, max_bytes=TIMESTAMP_MAX_BYTES)
    except FileRefused as exc:
        raise TimestampError(exc.message) from None
    if data is None:
        return None
    try:
        return parse_timestamp(data.decode("utf-8", errors="replace"))
    except TimestampError as exc:
        raise TimestampError(f"{TIMESTAMP_NAME}: {exc.message}") from None


def lateness_of(
    folder: Path, due: datetime | None, policy: LatePolicy | None
) -> tuple[Lateness, str | None]:
    """How late the submission in ``folder`` is, and what the instructor should hear
    when its time is unknown (no ``timestamp.txt``, or one that cannot be used)."""
    if due is None:
        return assess(None, None, policy), None
    try:
        submitted = read_timestamp(folder)
        problem = None if submitted is not None else f"no {TIMESTAMP_NAME}"
    except TimestampError as exc:
        submitted, problem = None, exc.message
    lateness = assess(submitted, due, policy)
    if problem is None:
        return lateness, None
    unknown = policy.unknown_time if policy is not None else None
    if unknown == UNKNOWN_TIME_ON_TIME:
        return lateness, None
    # describe() begins with "submission time unknown" whenever the time is unknown.
    return lateness, f"{problem}: {lateness.describe()}"


@dataclass(frozen=True)
class Lateness:
    submitted: datetime | None
    due: datetime | None
    days_late: int  # started days past the due date; 0 when on time or unknown
    fraction: float  # of the raw score that is taken off
    accepted: bool = True
    unknown_late: bool = False  # the time is unknown and the policy counts that as late

    def penalty(self, raw_score: float) -> float:
        return round(max(raw_score, 0.0) * self.fraction, 4)

    def describe(self) -> str:
        if self.due is None:
            return "no due date"
        if self.unknown_late:
            return "submission time unknown: counted as past the last accepted day, score 0"
        if self.submitted is None:
            return "submission time unknown: graded as on time (flagged for the instructor)"
        if self.days_late == 0:
            return "on time"
        day_word = "day" if self.days_late == 1 else "days"
        if not self.accepted:
            return f"{self.days_late} {day_word} late: past the last accepted day, score 0"
        return f"{self.days_late} {day_word} late: {round(self.fraction * 100, 2):g}% off"


def assess(submitted: datetime | None, due: datetime | None, policy: LatePolicy | None) -> Lateness:
    """How late ``submitted`` is for ``due``, and the fraction ``policy`` takes off."""
    unknown_late = policy is not None and policy.unknown_time == UNKNOWN_TIME_LATE
    if due is not None and submitted is None and unknown_late:
        return Lateness(None, due, 0, 1.0, accepted=False, unknown_late=True)
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

"""The instructor's side of ``propgrade serve``: the dashboard, the class report and each
student's counted attempt, grades.csv, regrading and the after-due-date release."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from propgrade.config import COUNTS_BEST
from propgrade.engine.results import SubmissionResult
from propgrade.engine.standing import Standing
from propgrade.gradebook import grades_csv_with_late
from propgrade.reports.class_report import render_class_report
from propgrade.reports.student_page import render_student_page
from propgrade.reports.visibility import INSTRUCTOR
from propgrade.serve import pages, store, tokens
from propgrade.serve.db import DONE, people, reader
from propgrade.serve.service import RELEASED_KEY, Service, html

Handler = Callable[[Request], Awaitable[Response]]
Guarded = Callable[[Request, tokens.Person, str], Awaitable[Response]]
Entries = list[tuple[SubmissionResult, Standing]]


def class_state(service: Service) -> tuple[list[pages.Row], Entries, int]:
    """Every student's row of the dashboard, the counted attempts, and how many
    submissions wait or are being graded."""
    everyone = store.everyone(service.engine, service.assignment.name)
    by_student: dict[str, list[store.Stored]] = {}
    for s in everyone:
        by_student.setdefault(s.student, []).append(s)
    with reader(service.engine).connect() as conn:
        roster = [
            r.student
            for r in conn.execute(
                sa.select(people.c.student)
                .where(people.c.role == tokens.STUDENT)
                .order_by(people.c.student)
            )
        ]
    rows: list[pages.Row] = []
    entries: list[tuple[SubmissionResult, Standing]] = []
    pending = 0
    for student in sorted(set(roster) | set(by_student)):
        attempts = by_student.get(student, [])
        waiting = sum(1 for a in attempts if a.status != DONE)
        pending += waiting
        counted = _counted(service, attempts)
        if counted is None:
            rows.append(pages.Row(student, len(attempts), "", waiting))
            continue
        stored, result, standing = counted
        entries.append((result, standing))
        text = pages.points_text(standing.final, standing.max_score, so_far=False)
        rows.append(pages.Row(student, len(attempts), text, waiting, stored.public_id))
    return rows, entries, pending


def routes(service: Service, instructor: Callable[[Guarded], Handler]) -> list[Route]:
    """The instructor's routes, each behind ``instructor`` (signed in with the instructor's
    token, and a valid CSRF token on a form)."""

    async def dashboard(request: Request, person: tokens.Person, token: str) -> Response:
        rows, _, pending = await asyncio.to_thread(class_state, service)
        a = service.assignment
        released = await asyncio.to_thread(service.released)
        due = a.due.isoformat() if a.due else "no due date is set"
        return html(
            pages.dashboard(
                a.name,
                rows,
                tokens.csrf_token(token),
                counts=a.serve.counts,
                released=released,
                due=due,
                can_release=a.due is not None and store.now() >= a.due,
                queued=pending,
            )
        )

    async def class_report(request: Request, person: tokens.Person, token: str) -> Response:
        _, entries, _ = await asyncio.to_thread(class_state, service)
        results = [r for r, _ in entries]
        standings = {r.student: s for r, s in entries}
        sandbox = results[0].meta.get("sandbox", "") if results else ""
        return html(render_class_report(results, sandbox=str(sandbox), standings=standings))

    async def class_feedback(request: Request, person: tokens.Person, token: str) -> Response:
        # The class report links each student as <student>/feedback.html beside it.
        _, entries, _ = await asyncio.to_thread(class_state, service)
        for result, standing in entries:
            if result.student == request.path_params["student"]:
                return html(render_student_page(result, audience=INSTRUCTOR, standing=standing))
        return html(pages.problem("Not found", "no graded attempt of this student"), 404)

    async def grades(request: Request, person: tokens.Person, token: str) -> Response:
        _, entries, _ = await asyncio.to_thread(class_state, service)
        check_ids = [c.id for c in service.assignment.checks]
        return Response(
            grades_csv_with_late(entries, check_ids),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="grades.csv"'},
        )

    async def regrade(request: Request, person: tokens.Person, token: str) -> Response:
        await asyncio.to_thread(store.regrade_all, service.engine, service.assignment.name)
        return RedirectResponse("/instructor", status_code=303)

    async def release(request: Request, person: tokens.Person, token: str) -> Response:
        due = service.assignment.due
        if due is None or store.now() < due:
            return html(pages.problem("Not yet", "feedback is released after the due date"), 409)
        await asyncio.to_thread(store.set_setting, service.engine, RELEASED_KEY, "yes")
        return RedirectResponse("/instructor", status_code=303)

    return [
        Route("/instructor", instructor(dashboard), methods=["GET"]),
        Route("/instructor/class/report.html", instructor(class_report), methods=["GET"]),
        Route(
            "/instructor/class/{student}/feedback.html", instructor(class_feedback), methods=["GET"]
        ),
        Route("/instructor/grades.csv", instructor(grades), methods=["GET"]),
        Route("/instructor/regrade", instructor(regrade), methods=["POST"]),
        Route("/instructor/release", instructor(release), methods=["POST"]),
    ]


def _counted(
    service: Service, attempts: list[store.Stored]
) -> tuple[store.Stored, SubmissionResult, Standing] | None:
    """The attempt that counts (grading.yaml: latest or best, by final score)."""
    graded: list[tuple[store.Stored, SubmissionResult, Standing]] = []
    for stored in attempts:
        result = stored.result()
        if stored.status == DONE and result is not None:
            graded.append((stored, result, service.standing(stored, result)))
    if not graded:
        return None
    if service.assignment.serve.counts == COUNTS_BEST:
        # The best final score; of equal ones, the earliest.
        return max(graded, key=lambda g: (g[2].final, -g[0].received_at.timestamp()))
    return max(graded, key=lambda g: (g[0].received_at, g[0].id))

"""The Starlette application of ``propgrade serve``.

Who is asking comes from a token: the ``Authorization: Bearer`` header (``propgrade
submit``) or the cookie set by signing in (browsers). Tokens travel only in headers and
form bodies, never in a URL, so no access log holds one. Forms signed in by cookie carry
a CSRF token derived from the signed-in token. Every page is built with escaping and
served with a Content-Security-Policy that forbids scripts.

A student sees only their own submissions: any other id answers 404, as an unknown one
does. The instructor's token opens the dashboard and every page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from propgrade.reports.student_page import render_student_page
from propgrade.serve import pages, store, tokens
from propgrade.serve.db import DONE
from propgrade.serve.instructor import routes as instructor_routes
from propgrade.serve.service import (
    Refused,
    Service,
    html,
    owns,
    read_upload,
    receive_upload,
)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def _person(service: Service, token: str) -> tokens.Person | None:
    return await asyncio.to_thread(tokens.who, service.engine, token)


COOKIE = "propgrade_session"
Handler = Callable[[Request], Awaitable[Response]]


def build_app(service: Service) -> Any:
    """The application; ``service`` holds the database and the assignment."""

    async def cookie_person(request: Request) -> tuple[tokens.Person | None, str]:
        token = request.cookies.get(COOKIE, "")
        return await _person(service, token), token

    def signed_in(handler: Callable[[Request, tokens.Person, str], Awaitable[Response]]) -> Handler:
        async def wrapped(request: Request) -> Response:
            person, token = await cookie_person(request)
            if person is None:
                if request.method == "GET" and request.url.path == "/":
                    return html(pages.sign_in())
                return RedirectResponse("/", status_code=303)
            if request.method == "POST" and request.url.path != "/upload":
                form = await request.form(max_files=0, max_fields=4)
                if not tokens.csrf_ok(token, str(form.get("csrf", ""))):
                    return html(
                        pages.problem("Refused", "the form has expired; reload the page"), 403
                    )
            return await handler(request, person, token)

        return wrapped

    def instructor(
        handler: Callable[[Request, tokens.Person, str], Awaitable[Response]],
    ) -> Handler:
        async def only(request: Request, person: tokens.Person, token: str) -> Response:
            if person.role != tokens.INSTRUCTOR:
                return html(pages.problem("Not found", "there is no such page"), 404)
            return await handler(request, person, token)

        return signed_in(only)

    async def home(request: Request, person: tokens.Person, token: str) -> Response:
        if person.role == tokens.INSTRUCTOR:
            return RedirectResponse("/instructor", status_code=303)
        a = service.assignment
        attempts = await asyncio.to_thread(store.history, service.engine, person.student, a.name)
        audience = await asyncio.to_thread(service.audience, person)
        rules = []
        if a.due is not None:
            rules.append(f"Due {a.due.isoformat()}; the server's receipt time counts.")
        if a.serve.attempts_per_hour is not None:
            rules.append(f"At most {a.serve.attempts_per_hour} attempts per hour.")
        rules.append(f"The {a.serve.counts} graded attempt counts.")
        accepts = f"{a.graded_file} or notebook (at most {service.max_bytes // 1024} KiB)"
        text = pages.home(
            person.student,
            a.name,
            accepts,
            tokens.csrf_token(token),
            [service.attempt(s, audience) for s in attempts],
            rules,
        )
        return html(text)

    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=2)
        token = str(form.get("token", "")).strip()
        person = await _person(service, token)
        if person is None:
            return html(pages.sign_in("That token is not known here."), 401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=180 * 24 * 3600,
        )
        return response

    async def logout(request: Request, person: tokens.Person, token: str) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    async def upload_form(request: Request, person: tokens.Person, token: str) -> Response:
        try:
            name, data, fields = await read_upload(service, request)
            if not tokens.csrf_ok(token, fields.get("csrf", "")):
                raise Refused(403, "the form has expired; reload the page")
            stored, new = await receive_upload(service, person, name, data)
        except Refused as refused:
            return html(
                pages.problem("Not accepted", refused.message), refused.status, refused.headers
            )
        suffix = "" if new else "?same=1"
        return RedirectResponse(f"/s/{stored.public_id}{suffix}", status_code=303)

    async def status_page(request: Request, person: tokens.Person, token: str) -> Response:
        stored = await asyncio.to_thread(store.get, service.engine, request.path_params["sid"])
        if not owns(person, stored):
            return html(pages.problem("Not found", "there is no such submission"), 404)
        assert stored is not None
        audience = await asyncio.to_thread(service.audience, person)
        attempt = service.attempt(stored, audience)
        detail = ""
        if stored.status == DONE:
            _, fields = service.shown_score(stored, audience)
            detail = (
                "Every check is counted."
                if fields.get("complete")
                else "Visible checks only: the others are shown after the due date."
            )
        duplicate = request.query_params.get("same") == "1"
        return html(pages.status(attempt, detail, duplicate))

    async def feedback(request: Request, person: tokens.Person, token: str) -> Response:
        stored = await asyncio.to_thread(store.get, service.engine, request.path_params["sid"])
        if not owns(person, stored):
            return html(pages.problem("Not found", "there is no such submission"), 404)
        assert stored is not None
        result = stored.result()
        if result is None:
            return RedirectResponse(f"/s/{stored.public_id}", status_code=303)
        audience = await asyncio.to_thread(service.audience, person)
        text = render_student_page(
            result, audience=audience, standing=service.standing(stored, result)
        )
        return html(text)

    # -- the API of `propgrade submit` -------------------------------------------------

    async def api_person(request: Request) -> tokens.Person | None:
        return await _person(service, _bearer(request))

    def api_view(stored: store.Stored, audience: str, new: bool | None = None) -> dict[str, Any]:
        _, score = service.shown_score(stored, audience)
        view: dict[str, Any] = {
            "id": stored.public_id,
            "status": stored.status,
            "received_at": stored.received_at.isoformat(),
            "page": f"/s/{stored.public_id}",
            "feedback": f"/s/{stored.public_id}/feedback",
            **score,
        }
        late = service.late_text(stored)
        if late:
            view["late"] = late
        if new is not None:
            view["new"] = new
        return view

    async def api_submit(request: Request) -> Response:
        person = await api_person(request)
        if person is None:
            return JSONResponse({"error": "unknown or missing token"}, 401)
        try:
            name, data, _ = await read_upload(service, request)
            stored, new = await receive_upload(service, person, name, data)
        except Refused as refused:
            return JSONResponse({"error": refused.message}, refused.status, refused.headers)
        audience = await asyncio.to_thread(service.audience, person)
        return JSONResponse(api_view(stored, audience, new), 201 if new else 200)

    async def api_status(request: Request) -> Response:
        person = await api_person(request)
        if person is None:
            return JSONResponse({"error": "unknown or missing token"}, 401)
        stored = await asyncio.to_thread(store.get, service.engine, request.path_params["sid"])
        if not owns(person, stored):
            return JSONResponse({"error": "no such submission"}, 404)
        assert stored is not None
        audience = await asyncio.to_thread(service.audience, person)
        return JSONResponse(api_view(stored, audience))

    async def api_history(request: Request) -> Response:
        person = await api_person(request)
        if person is None:
            return JSONResponse({"error": "unknown or missing token"}, 401)
        attempts = await asyncio.to_thread(
            store.history, service.engine, person.student, service.assignment.name
        )
        audience = await asyncio.to_thread(service.audience, person)
        return JSONResponse({"submissions": [api_view(s, audience) for s in attempts]})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "assignment": service.assignment.name})

    routes = [
        Route("/", signed_in(home), methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", signed_in(logout), methods=["POST"]),
        Route("/upload", signed_in(upload_form), methods=["POST"]),
        Route("/s/{sid}", signed_in(status_page), methods=["GET"]),
        Route("/s/{sid}/feedback", signed_in(feedback), methods=["GET"]),
        Route("/api/submissions", api_submit, methods=["POST"]),
        Route("/api/submissions", api_history, methods=["GET"]),
        Route("/api/submissions/{sid}", api_status, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        *instructor_routes(service, instructor),
    ]
    app = Starlette(routes=routes)
    return _with_headers(app)


SECURITY_HEADERS = {
    "content-security-policy": pages.CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def _with_headers(app: Starlette) -> Any:
    """The security headers on every response, whatever route made it."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def sending(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode().lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, sending)

    return asgi

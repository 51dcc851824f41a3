"""How a console page is served: the session and CSRF checks, the handler in a worker thread, and
its answer as HTML or, for the same URL asked with ``Accept: application/json`` (or ``?format=json``),
as JSON: every page has a JSON twin, built from the same data the template shows.

A handler is a plain function of a ``ConsoleRequest`` returning a ``Page`` (GET), or a ``Done``
(POST: the next page to go to, and what to say there). AWS errors are shown as AWS reported them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import anyio.to_thread
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ParamValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from nimbus.console import CONSOLE_PREFIX
from nimbus.console.api import CALLER_ADDRESS
from nimbus.console.sessions import COOKIE, Session, new_session

if TYPE_CHECKING:
    from nimbus.console.app import Console

PREFIX = CONSOLE_PREFIX
FLASH_COOKIE = "nimbus_console_flash"
CONSOLE_KEY = "nimbus.console"
MAX_FORM_PART = 16 * 1024 * 1024  # an image for Rekognition (5 MB) or an utterance, with room
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Page:
    template: str
    data: dict[str, Any]
    title: str = ""
    status: int = 200
    fragment: str | None = None  # the template that answers a script's request for the page's update


@dataclass
class Done:
    """A POST's answer: go to ``location`` and say ``note``; a script gets ``data`` as JSON."""

    location: str
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[["ConsoleRequest"], Page | Done | Response]


@dataclass
class ConsoleRequest:
    request: Request
    session: Session
    console: Console
    form: FormData | None = None

    @property
    def origin(self) -> str:
        return f"{self.request.url.scheme}://{self.request.headers.get('host', self.request.url.netloc)}"

    def client(self, service: str) -> BaseClient:
        return self.console.api.client(service, self.session.sign_in, self.origin)

    def extension(self, name: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The answer of one of Nimbus's own signed endpoints (``/_nimbus/...``): JSON, or the response
        itself for other content; a ClientError (of operation ``name``) when it refuses."""
        answer = self.console.api.signed(
            method, f"{self.origin}{path}", self.session.sign_in, json.dumps(body).encode() if body else b""
        )
        if answer.status >= 400:
            error = json.loads(answer.body or b"{}")
            code = answer.headers.get("x-amzn-errortype") or error.get("__type", "Error")  # rest-json, json
            details = {"Code": str(code), "Message": str(error.get("message", ""))}
            raise ClientError({"Error": details, "ResponseMetadata": {"HTTPStatusCode": answer.status}}, name)
        if answer.headers.get("content-type", "").startswith("application/json"):
            return json.loads(answer.body)
        return answer

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        return [value for value in (self.form.getlist(name) if self.form else []) if isinstance(value, str)]

    def one_page(
        self, call: Callable[..., Any], items: str, token: str, next_token: str = "", **parameters: Any
    ) -> tuple[list[Any], str | None]:
        """One page of a list operation (the page the ``token`` query parameter names), and this
        page's URL for the page after it, None on the last. ``token`` is the operation's request
        member for the page to read; ``next_token`` its answer's member, when the name differs."""
        if self.query("token"):
            parameters[token] = self.query("token")
        listed = call(**parameters)
        following = listed.get(next_token or token)
        return listed.get(items, []), self.with_query(token=following) if following else None

    def with_query(self, **changes: str) -> str:
        """This page's path with some query parameters replaced."""
        query = {**self.request.query_params, **changes}
        return self.request.url.path + "?" + urlencode(query)

    def uploads(self, name: str) -> list[tuple[str, str, bytes]]:
        """(file name, content type, bytes) of each file chosen in a file field."""
        values = self.form.getlist(name) if self.form is not None else []
        return [
            (value.filename, value.content_type or "", value.file.read())
            for value in values
            if isinstance(value, UploadFile) and value.filename
        ]

    def upload(self, name: str) -> tuple[str, str, bytes] | None:
        """The file chosen in a file field, or None when none was."""
        chosen = self.uploads(name)
        return chosen[0] if chosen else None


def url(path: str, **query: object) -> str:
    """A console URL: ``path`` under the prefix, and the query parameters that are not empty."""
    shown = {name: value for name, value in query.items() if value not in (None, "")}
    return f"{PREFIX}{path}" + (f"?{urlencode(shown)}" if shown else "")


def quoted(value: str) -> str:
    return quote(value, safe="")


def get(path: str, handler: Handler) -> Route:
    return Route(PREFIX + path, _endpoint(handler, signed_in=True), methods=["GET"])


def post(path: str, handler: Handler) -> Route:
    return Route(PREFIX + path, _endpoint(handler, signed_in=True), methods=["POST"])


def public(path: str, handler: Handler, methods: list[str]) -> Route:
    """A route that needs no sign-in (the sign-in page itself); POSTs still need the CSRF token."""
    return Route(PREFIX + path, _endpoint(handler, signed_in=False), methods=methods)


def wants_json(request: Request) -> bool:
    return request.query_params.get("format") == "json" or request.headers.get("accept", "").startswith(
        "application/json"
    )


def _endpoint(handler: Handler, signed_in: bool) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        console: Console = request.scope[CONSOLE_KEY]
        session = console.seal.open(request.cookies.get(COOKIE))
        if signed_in and (session is None or not session.signed_in):
            return _sign_in_first(request, expired=session is not None and bool(session.access_key_id))
        form = None
        if request.method == "POST":
            refusal = _cross_site(request)
            if refusal is None:
                try:
                    form = await request.form(max_part_size=MAX_FORM_PART)
                except HTTPException as error:  # a malformed form, or a file over MAX_FORM_PART
                    return refuse(request, error.status_code, "InvalidRequest", str(error.detail))
                token = request.headers.get("x-csrf-token") or form.get("csrf")
                if session is None or not isinstance(token, str) or not session.csrf_matches(token):
                    refusal = "The form's CSRF token is missing or wrong: reload the page and try again."
            if refusal is not None:
                return refuse(request, 403, "Forbidden", refusal)
        ctx = ConsoleRequest(request, session or new_session(), console, form)
        address = (request.client.host if request.client else "", request.url.scheme)
        try:
            result = await anyio.to_thread.run_sync(_run, handler, ctx, address, limiter=console.limiter)
        except ClientError as error:
            return _aws_error(ctx, error)
        except (ParamValidationError, ValueError) as error:  # input botocore or the page cannot read
            return _error(ctx, 400, "ValidationError", str(error))
        if isinstance(result, Page):
            return render(ctx, result)
        if isinstance(result, Done):
            return done(ctx, result)
        return secured(result)

    return endpoint


def _run(handler: Handler, ctx: ConsoleRequest, address: tuple[str, str]) -> Page | Done | Response:
    CALLER_ADDRESS.set(address)
    return handler(ctx)


def _cross_site(request: Request) -> str | None:
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None and urlsplit(origin).netloc != host:
        return f"A form from {origin} cannot act on this console."
    return None


def _sign_in_first(request: Request, expired: bool) -> Response:
    message = "Your session has expired: sign in again." if expired else "Sign in first."
    if wants_json(request) or request.method != "GET":
        return refuse(request, 401, "Unauthorized", message)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return secured(RedirectResponse(url("/sign-in", next=target, expired=int(expired) or None), 303))


def refuse(request: Request, status: int, code: str, message: str) -> Response:
    if wants_json(request):
        return secured(JSONResponse({"Error": {"Code": code, "Message": message}}, status))
    return secured(HTMLResponse(f"<!doctype html><title>{code}</title><p>{_escape(message)}</p>", status))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(ctx: ConsoleRequest, page: Page) -> Response:
    if wants_json(ctx.request):
        return secured(JSONResponse(to_json(page.data), page.status))
    template = (
        page.fragment if page.fragment and ctx.request.headers.get("x-console-fragment") else page.template
    )
    flash = _flash(ctx.request)
    html = ctx.console.templates.get_template(template).render(
        **page.data,
        title=page.title,
        session=ctx.session,
        csrf=ctx.session.csrf,
        flash=flash,
        path=ctx.request.url.path,
        here=ctx.request.url.path + (f"?{ctx.request.url.query}" if ctx.request.url.query else ""),
        nimbus_version=ctx.console.version,
    )
    response = secured(HTMLResponse(html, page.status))
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def done(ctx: ConsoleRequest, result: Done) -> Response:
    if wants_json(ctx.request):
        return secured(JSONResponse(to_json({"Note": result.note, **result.data})))
    return _go(ctx, result.location, {"note": result.note} if result.note else None)


def _go(ctx: ConsoleRequest, location: str, flash: dict[str, str] | None) -> Response:
    response = secured(RedirectResponse(location, 303))
    if flash:
        response.set_cookie(
            FLASH_COOKIE,
            base64.urlsafe_b64encode(json.dumps(flash).encode()).decode(),
            max_age=60,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=ctx.request.url.scheme == "https",
        )
    return response


def _flash(request: Request) -> dict[str, str] | None:
    cookie = request.cookies.get(FLASH_COOKIE)
    if not cookie:
        return None
    try:
        flash = json.loads(base64.urlsafe_b64decode(cookie.encode()))
    except ValueError:
        return None
    return {name: str(value) for name, value in flash.items()} if isinstance(flash, dict) else None


def _aws_error(ctx: ConsoleRequest, error: ClientError) -> Response:
    details = error.response.get("Error", {})
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
    return _error(ctx, status, str(details.get("Code", "Error")), str(details.get("Message", "")))


def _error(ctx: ConsoleRequest, status: int, code: str, message: str) -> Response:
    """A failed GET shows the error; a failed POST goes back to the form's page and says why."""
    if wants_json(ctx.request):
        return secured(JSONResponse({"Error": {"Code": code, "Message": message}}, status))
    if ctx.request.method == "POST":
        back = ctx.field("back")
        location = back if back.startswith(PREFIX + "/") and not back.startswith("//") else url("/")
        return _go(ctx, location, {"error": f"{code}: {message}"})
    page = Page("error.html", {"code": code, "message": message}, title=code, status=status)
    return render(ctx, page)


def secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def to_json(value: Any) -> Any:
    """What the JSON twin shows: dates as ISO 8601, bytes as base64, the rest as is."""
    if isinstance(value, Mapping):
        return {str(name): to_json(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value

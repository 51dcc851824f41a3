"""Signing in and out. Signing in asks STS, through the gateway like any client, for temporary
credentials of the key pair given (GetSessionToken) and who they belong to (GetCallerIdentity)."""

from __future__ import annotations

import time

from botocore.exceptions import ClientError
from starlette.responses import Response

from nimbus.console.api import SignIn
from nimbus.console.sessions import COOKIE, Session, new_session
from nimbus.console.web import PREFIX, ConsoleRequest, Page, post, public, render, secured, url


def sign_in_form(ctx: ConsoleRequest, error: str = "", status: int = 200) -> Response:
    """The form; the browser's session cookie (with the CSRF token the form carries) is set here."""
    expired = "Your session has expired: sign in again." if ctx.query("expired") else ""
    page = Page(
        "sign_in.html",
        {"next": _next(ctx.query("next") or ctx.field("next")), "error": error or expired},
        title="Sign in",
        status=status,
    )
    return with_session(ctx, render(ctx, page), ctx.session)


def sign_in(ctx: ConsoleRequest) -> Response:
    key = SignIn(ctx.field("access_key_id").strip(), ctx.field("secret_access_key").strip())
    if not key.access_key_id or not key.secret_access_key:
        return sign_in_form(ctx, "Give an access key id and its secret access key.", 400)
    try:
        credentials = ctx.console.api.client("sts", key, ctx.origin).get_session_token()["Credentials"]
        temporary = SignIn(
            credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
        )
        identity = ctx.console.api.client("sts", temporary, ctx.origin).get_caller_identity()
    except ClientError as error:
        details = error.response.get("Error", {})
        return sign_in_form(ctx, f"{details.get('Code')}: {details.get('Message')}", 401)
    session = ctx.session.signed_in_as(
        temporary, int(credentials["Expiration"].timestamp()), identity["Arn"], identity["Account"]
    )
    response = secured(Response(status_code=303, headers={"Location": _next(ctx.field("next"))}))
    return with_session(ctx, response, session)


def sign_out(ctx: ConsoleRequest) -> Response:
    response = secured(Response(status_code=303, headers={"Location": url("/sign-in")}))
    return with_session(ctx, response, new_session())


def with_session(ctx: ConsoleRequest, response: Response, session: Session) -> Response:
    max_age = max(session.expires_at - int(time.time()), 0) if session.access_key_id else None
    response.set_cookie(
        COOKIE,
        ctx.console.seal.seal(session),
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=ctx.request.url.scheme == "https",
    )
    return response


def _next(target: str) -> str:
    """Where to go after signing in: a console page, never another site."""
    return target if target.startswith(PREFIX + "/") and not target.startswith("//") else url("/")


ROUTES = [
    public("/sign-in", sign_in_form, ["GET"]),
    public("/sign-in", sign_in, ["POST"]),
    post("/sign-out", sign_out),
]

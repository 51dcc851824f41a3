"""The console's ASGI app: its routes, templates and static files, which the gateway serves under
``/_nimbus/console/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anyio import CapacityLimiter
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from nimbus import __version__
from nimbus.config import Settings
from nimbus.console import (
    ecr,
    emr,
    iam,
    kinesis,
    labeling,
    lex,
    lex_channels,
    logs,
    overview,
    rekognition,
    rekognition_streams,
    rekognition_video,
    s3,
    s3_versions,
    sagemaker,
    sign_in,
    sns,
    sqs,
)
from nimbus.console.api import Api
from nimbus.console.sessions import SessionSeal
from nimbus.console.templating import FILTERS, GLOBALS
from nimbus.console.web import CONSOLE_KEY, PREFIX
from nimbus.storage.face_thumbnails import FaceThumbnails

STATIC = Path(__file__).parent / "static"
# Console handlers wait for the gateway's own worker threads: they get threads of their own, so a
# burst of console requests can never hold every thread the API calls they make need.
HANDLER_THREADS = 8


class Console:
    def __init__(self, gateway: ASGIApp, settings: Settings) -> None:
        self.api = Api(gateway, settings.region)  # the gateway, as the console's clients reach it
        self.seal = SessionSeal(settings.data_dir)
        # read only after the API has said the caller may see the face (see rekognition.face_thumbnail)
        self.face_thumbnails = FaceThumbnails.under(settings.data_dir)
        self.version = __version__
        self.limiter = CapacityLimiter(HANDLER_THREADS)
        self.templates = Environment(
            loader=PackageLoader("nimbus.console", "templates"),
            autoescape=select_autoescape(default=True),
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(FILTERS)
        self.templates.globals.update(GLOBALS)
        routes: list[Any] = [
            Route(PREFIX, lambda request: RedirectResponse(PREFIX + "/", 308)),
            Mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="static"),
        ]
        for module in (
            sign_in,
            overview,
            s3,
            s3_versions,
            rekognition,
            rekognition_video,
            rekognition_streams,
            lex,
            lex_channels,
            sagemaker,
            emr,
            logs,
            iam,
            sns,
            sqs,
            kinesis,
            ecr,
            labeling,
        ):
            routes.extend(module.ROUTES)
        self.router = Router(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[CONSOLE_KEY] = self
        await self.router(scope, receive, send)

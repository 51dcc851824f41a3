"""The SageMaker inference container contract, served by one worker process on a loopback port:
``GET /ping`` answers 200 once the model is loaded, ``POST /invocations`` predicts.

Run as ``python -m nimbus.engines.learn.serving --model-dir DIR --port PORT``; it loads the model
before it listens, so a model that does not load ends the process with the reason on stderr.

The artifact says which algorithm serves it (the worker is not told the image): ``xgboost-model``
is XGBoost's booster, ``model_algo-1`` a Linear Learner or K-Means model trained by Nimbus.
"""

from __future__ import annotations

import argparse
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol

import numpy as np

from nimbus.engines.learn import builtin_io, xgboost_server
from nimbus.engines.learn.kmeans_server import KMeansModel
from nimbus.engines.learn.linear_learner_server import LinearLearnerModel
from nimbus.engines.learn.xgboost_server import XGBoostModel

HOST = "127.0.0.1"
UNSUPPORTED = (xgboost_server.UnsupportedContentType, builtin_io.UnsupportedContentType)
BUILTIN_MODELS = {"linear-learner": LinearLearnerModel, "kmeans": KMeansModel}


class Model(Protocol):
    def predict(self, body: bytes, content_type: str) -> np.ndarray: ...

    def encode(self, predictions: np.ndarray, accept: str) -> tuple[bytes, str]: ...


def load_model(model_dir: Path) -> Model:
    """The model of the artifact extracted in ``model_dir``."""
    if not (model_dir / builtin_io.MODEL_FILE).is_file():
        return XGBoostModel(model_dir)
    model = builtin_io.load_model(model_dir)
    algorithm = model.get("algorithm") if isinstance(model, dict) else None
    if algorithm not in BUILTIN_MODELS:
        raise ValueError(
            f"{builtin_io.MODEL_FILE} is not a Linear Learner or K-Means model trained by Nimbus"
        )
    return BUILTIN_MODELS[algorithm](model)


class ContainerHandler(BaseHTTPRequestHandler):
    """/ping and /invocations for the model the server holds."""

    server: ModelServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._answer(HTTPStatus.OK, b"", "text/plain")
        else:
            self._answer(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/invocations":
            self._answer(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
            return
        try:
            predictions = self.server.model.predict(body, self.headers.get("Content-Type") or "")
        except UNSUPPORTED as error:
            self._answer(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(error).encode(), "text/plain")
            return
        except (ValueError, UnicodeDecodeError) as error:
            self._answer(
                HTTPStatus.BAD_REQUEST, f"Unable to parse the request: {error}".encode(), "text/plain"
            )
            return
        try:
            payload, content_type = self.server.model.encode(predictions, self.headers.get("Accept") or "")
        except builtin_io.UnsupportedAccept as error:
            self._answer(HTTPStatus.NOT_ACCEPTABLE, str(error).encode(), "text/plain")
            return
        self._answer(HTTPStatus.OK, payload, content_type)

    def _answer(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Requests are logged by the gateway, not by every worker."""


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, model: Model) -> None:
        super().__init__((HOST, port), ContainerHandler)
        self.model = model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        model = load_model(args.model_dir)
    except (OSError, ValueError, RuntimeError) as error:  # xgboost raises XGBoostError (a ValueError)
        sys.stderr.write(f"The model could not be loaded: {error}\n")
        sys.exit(1)
    ModelServer(args.port, model).serve_forever()


if __name__ == "__main__":
    main()

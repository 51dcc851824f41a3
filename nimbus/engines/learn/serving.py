"""The SageMaker inference container contract, served by one worker process on a loopback port:
``GET /ping`` answers 200 once the model is loaded, ``POST /invocations`` predicts.

Run as ``python -m nimbus.engines.learn.serving --port PORT [--framework NAME]`` in an endpoint's
sandbox, with the model at ``/opt/ml/model`` and the user's code at ``/opt/ml/code``; it loads the
model before it listens, so a model that does not load ends the process with the reason on stderr.

With ``--framework`` (sklearn, xgboost, pytorch) the user's script named by ``SAGEMAKER_PROGRAM``
serves (script_serving.py). Without it the artifact says which built-in algorithm serves it:
``xgboost-model`` is XGBoost's booster, ``model_algo-1`` a model of another built-in trained by Nimbus.
"""

from __future__ import annotations

import argparse
import os
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol

import numpy as np

from nimbus.engines.learn import builtin_io, script_serving, xgboost_server
from nimbus.engines.learn.kmeans_server import KMeansModel
from nimbus.engines.learn.knn_server import KNNModel
from nimbus.engines.learn.linear_learner_server import LinearLearnerModel
from nimbus.engines.learn.pca_server import PCAModel
from nimbus.engines.learn.rcf_server import RandomCutForestModel
from nimbus.engines.learn.xgboost_server import XGBoostModel

HOST = "127.0.0.1"
ML_ROOT = Path(os.environ.get("NIMBUS_ML_ROOT", "/opt/ml"))
UNSUPPORTED = (xgboost_server.UnsupportedContentType, builtin_io.UnsupportedContentType)
BUILTIN_MODELS = {
    "linear-learner": LinearLearnerModel,
    "kmeans": KMeansModel,
    "pca": PCAModel,
    "knn": KNNModel,
    "randomcutforest": RandomCutForestModel,
}


class Model(Protocol):
    def predict(self, body: bytes, content_type: str) -> np.ndarray: ...

    def encode(self, predictions: np.ndarray, accept: str) -> tuple[bytes, str]: ...


class Container(Protocol):
    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]: ...


class BuiltinContainer:
    """A built-in algorithm's model: its predictions, encoded as the client accepts."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        return self.model.encode(self.model.predict(body, content_type), accept)


def load_container(framework: str | None, root: Path = ML_ROOT) -> Container:
    """What serves ``root`` (``/opt/ml`` in a sandbox): the user's script for a framework, else the
    built-in's model. The script's settings come from this process's environment."""
    model_dir = root / "model"
    if framework is None:
        return BuiltinContainer(load_model(model_dir))
    return script_serving.ScriptContainer(
        framework,
        model_dir,
        root / "code",
        os.environ.get("SAGEMAKER_PROGRAM", ""),
        os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", ""),
    )


def load_model(model_dir: Path) -> Model:
    """The built-in algorithm's model of the artifact extracted in ``model_dir``."""
    if not (model_dir / builtin_io.MODEL_FILE).is_file():
        return XGBoostModel(model_dir)
    model = builtin_io.load_model(model_dir)
    algorithm = model.get("algorithm") if isinstance(model, dict) else None
    if algorithm not in BUILTIN_MODELS:
        raise ValueError(
            f"{builtin_io.MODEL_FILE} is not a Linear Learner, K-Means, PCA, k-NN or Random Cut Forest "
            "model trained by Nimbus"
        )
    return BUILTIN_MODELS[algorithm](model)


def load_failure(error: Exception) -> str:
    """Why the model did not load, as the worker says it (without the native stack trace XGBoost
    appends, which would push the message itself out of a FailureReason)."""
    message = str(error).split("Stack trace:", 1)[0].strip()
    return f"The model could not be loaded: {type(error).__name__}: {message}"


def answer(
    container: Container, body: bytes, content_type: str, accept: str
) -> tuple[HTTPStatus, bytes, str]:
    """The status, body and content type that ``/invocations`` answers for a request; what the
    container raises beyond the errors mapped here propagates (the server gives no answer)."""
    try:
        payload, answered_type = container.invoke(body, content_type, accept)
    except UNSUPPORTED as error:
        return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(error).encode(), "text/plain"
    except builtin_io.UnsupportedAccept as error:
        return HTTPStatus.NOT_ACCEPTABLE, str(error).encode(), "text/plain"
    except script_serving.HandlerError as error:
        return HTTPStatus.INTERNAL_SERVER_ERROR, str(error).encode(), "text/plain"
    except (ValueError, UnicodeDecodeError) as error:
        return HTTPStatus.BAD_REQUEST, f"Unable to parse the request: {error}".encode(), "text/plain"
    return HTTPStatus.OK, payload, answered_type


class ContainerHandler(BaseHTTPRequestHandler):
    """/ping and /invocations for the model the server holds."""

    server: ModelServer
    protocol_version = "HTTP/1.1"
    # keep-alive answers go out at once: with Nagle, a body written after its headers waits for
    # the client's delayed ACK (40 ms)
    disable_nagle_algorithm = True

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
        self._answer(
            *answer(
                self.server.container,
                body,
                self.headers.get("Content-Type") or "",
                self.headers.get("Accept") or "",
            )
        )

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
    # socketserver's default backlog (5) resets connections that a burst of requests opens at once
    request_queue_size = 128

    def __init__(self, port: int, container: Container) -> None:
        super().__init__((HOST, port), ContainerHandler)
        self.container = container


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--framework", choices=sorted(script_serving.FRAMEWORKS))
    args = parser.parse_args(argv)
    try:
        container = load_container(args.framework)
    except Exception as error:  # the user's model_fn or module may raise anything: the load failed
        sys.stderr.write(load_failure(error) + "\n")
        sys.exit(1)
    ModelServer(args.port, container).serve_forever()


if __name__ == "__main__":
    main()

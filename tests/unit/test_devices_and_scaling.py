"""The device settings refuse a GPU that is not there instead of running on the CPU, and the
projection past this machine's cores stays within what the measured points allow."""

from __future__ import annotations

import math

import pytest

from nimbus.engines import devices
from nimbus.services.instance_catalog import instance_type, machine_limits
from nimbus.services.sagemaker.recommendations.scaling import growth_exponent, project

no_gpu = pytest.mark.skipif(bool(devices.gpu_names()), reason="this machine has a GPU")


@no_gpu
def test_cuda_is_refused_without_a_gpu() -> None:
    with pytest.raises(devices.DeviceUnavailable):
        devices.xgboost_device(devices.CUDA)
    with pytest.raises(devices.DeviceUnavailable):
        devices.onnx_session(b"", devices.CUDA)
    assert devices.xgboost_device(devices.CPU) == devices.CPU


@no_gpu
def test_a_gpu_type_runs_on_the_cpu_without_a_gpu() -> None:
    limits = machine_limits(instance_type("ml.g4dn.xlarge"))
    assert limits.gpus == 0 and limits.cpus == min(4, devices.cpu_count())
    assert instance_type("ml.g4dn.xlarge").gpu_model == "NVIDIA T4"
    assert instance_type("ml.g5.xlarge").gpu_count is None  # a GPU type no source counts: unknown, not 0


def test_growth_exponent_of_a_power_law() -> None:
    assert growth_exponent([(n, 3 * n**2.5) for n in (8.0, 16.0, 64.0)]) == pytest.approx(2.5)


def test_projection_lies_between_no_gain_and_linear_gain() -> None:
    projection = project([(1, 100.0), (2, 170.0)], 8)
    assert projection.low == 170.0 and projection.high == 680.0
    assert projection.exponent == pytest.approx(math.log2(1.7))
    assert projection.low < projection.value < projection.high
    superlinear = project([(1, 100.0), (2, 250.0)], 4)  # held to linear: never more than c/M
    assert superlinear.value == pytest.approx(superlinear.high)
    single = project([(2, 50.0)], 4)
    assert single.exponent is None and single.value == single.low

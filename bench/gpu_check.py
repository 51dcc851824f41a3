"""The GPU check: the one script to run on a machine with an NVIDIA GPU (none was available when the
GPU paths were built: their CPU side is tested in CI, this is their GPU side).

    python bench/gpu_check.py --install    # once: onnxruntime-gpu from PyPI in place of onnxruntime
    python bench/gpu_check.py              # the checks; appends the results to bench/RESULTS.md

It checks that each GPU path really engages, never a silent CPU fallback:
1. ONNX Runtime: ``devices.onnx_session(model, "cuda")`` runs on CUDAExecutionProvider (it raises
   otherwise); a 2048 x 2048 MatMul model timed on CPU and CUDA.
2. XGBoost: ``device="cuda"`` (the PyPI wheel is built with CUDA) trains 100 rounds on 200,000 rows;
   the booster's configuration must say cuda; timed beside the CPU.
3. PyTorch: ``devices.torch_device("cuda")``, a matmul on it.
4. A sandboxed process given the GPU (Limits(gpus=1), as a GPU instance type's job gets it) sees it:
   ``NIMBUS_DEVICE=cuda``, the device files, XGBoost trains on it inside the sandbox.
Then it records the crossover (bench/crossover_bench.py) and a recommendation with a GPU type
(bench/recommender_bench.py) with the GPU's name.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
SANDBOX_PROBE = """
import json, numpy, xgboost
from nimbus.engines import devices
device = devices.current_device()
rows = numpy.random.rand(20000, 20)
data = xgboost.DMatrix(rows, label=rows[:, 0])
booster = xgboost.train({"device": devices.xgboost_device(device)}, data, 10)
used = json.loads(booster.save_config())["learner"]["generic_param"]["device"]
print(json.dumps({"device": device, "xgboost": used}))
"""


def install() -> None:
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "onnxruntime"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "onnxruntime-gpu>=1.20,<2"], check=True)


def seconds(step: object, repeats: int = 5) -> float:
    assert callable(step)
    step()
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - started) / repeats


def onnx_check() -> str:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    from nimbus.engines import devices

    size = 2048
    weight = helper.make_tensor(
        "w", TensorProto.FLOAT, [size, size], np.random.rand(size * size).astype(np.float32)
    )
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [size, size])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    onnx.checker.check_model(model)
    feed = {"x": np.random.rand(size, size).astype(np.float32)}
    cuda = devices.onnx_session(model, "cuda")  # raises unless CUDAExecutionProvider runs it
    cpu = devices.onnx_session(model, "cpu")
    gpu_s = seconds(lambda: cuda.run(None, feed))
    cpu_s = seconds(lambda: cpu.run(None, feed))
    timing = f"2048^2 MatMul {cpu_s * 1e3:.1f} ms CPU, {gpu_s * 1e3:.1f} ms CUDA"
    return f"ONNX Runtime: session providers {cuda.get_providers()}; {timing}"


def xgboost_check() -> str:
    import numpy as np
    import xgboost

    from nimbus.engines import devices

    rows = np.random.rand(200_000, 50).astype(np.float32)
    data = xgboost.DMatrix(rows, label=(rows[:, 0] > 0.5))
    times = {}
    for device in ("cpu", "cuda"):
        params = {
            "objective": "binary:logistic",
            "tree_method": "hist",
            "device": devices.xgboost_device(device),
        }
        started = time.perf_counter()
        booster = xgboost.train(params, data, 100)
        times[device] = time.perf_counter() - started
        configured = json.loads(booster.save_config())["learner"]["generic_param"]["device"]
        assert configured.startswith(device), f"XGBoost ran on {configured}, not {device}"
    timing = f"{times['cpu']:.1f} s CPU, {times['cuda']:.1f} s CUDA"
    return f"XGBoost {xgboost.__version__}: 100 rounds x 200,000 rows {timing}"


def torch_check() -> str:
    import torch

    from nimbus.engines import devices

    device = devices.torch_device("cuda")
    left = torch.randn(4096, 4096, device=device)
    product = left @ left
    torch.cuda.synchronize()
    return (
        f"PyTorch {torch.__version__}: a 4096^2 matmul on {product.device} ({torch.cuda.get_device_name(0)})"
    )


def sandbox_check() -> str:
    from nimbus.engines.learn.sandbox import Limits, start_sandboxed

    with tempfile.TemporaryDirectory() as folder:
        process = start_sandboxed(
            ["python", "-c", SANDBOX_PROBE], Path(folder), [], Limits(2, 8 << 30, gpus=1)
        )
        output, _ = process.communicate(timeout=300)
    last = output.decode().strip().splitlines()[-1]
    answer = json.loads(last)
    assert answer["device"] == "cuda" and answer["xgboost"].startswith("cuda"), answer
    return f"sandboxed job given 1 GPU: NIMBUS_DEVICE={answer['device']}, XGBoost device {answer['xgboost']}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--install", action="store_true", help="install onnxruntime-gpu, then stop")
    args = parser.parse_args()
    if args.install:
        install()
        return
    from nimbus.engines import devices

    names = devices.gpu_names()
    if not names:
        sys.exit("no NVIDIA GPU on this machine: nothing to check")
    lines = [f"## GPU check, {datetime.now(UTC):%Y-%m-%d}, {', '.join(names)}", ""]
    for check in (onnx_check, xgboost_check, torch_check, sandbox_check):
        try:
            lines.append(f"- {check()}")
        except Exception as error:  # every check is reported, passed or not
            lines.append(f"- FAILED {check.__name__}: {type(error).__name__}: {error}")
    for script, extra in (("crossover_bench.py", []), ("recommender_bench.py", ["--runs", "1"])):
        run = subprocess.run(
            [sys.executable, str(BENCH / script), *extra], capture_output=True, text=True, cwd=BENCH
        )
        lines += ["", run.stdout.strip() or f"{script} failed: {run.stderr.strip()[-2000:]}"]
    text = "\n".join(lines) + "\n"
    print(text)
    with RESULTS.open("a") as results:
        results.write("\n" + text)


if __name__ == "__main__":
    main()

"""Script mode, inside a training job's sandbox: what the SageMaker training toolkit does in the
scikit-learn, XGBoost and PyTorch framework containers. It reads ``/opt/ml/input/config``, sets the
``SM_*`` variables, and runs the user's entry point from ``/opt/ml/code`` with the job's
hyperparameters as ``--name value`` arguments, under torchrun when the SDK asked for
``torch_distributed``. Its output is the job's log; when it fails, the end of its stderr becomes the
job's FailureReason (``/opt/ml/output/failure``).

Run as ``python -m nimbus.engines.learn.script_mode``, by the Python of an environment that holds
the source directory's ``requirements.txt`` when it has one (requirements.py installs it before).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import deque
from typing import Any, TextIO

from nimbus.engines.learn.builtin_io import ML_ROOT, TUNING_OBJECTIVE_METRIC
from nimbus.engines.learn.cluster import RENDEZVOUS_PORT_VARIABLE

CODE_DIR = ML_ROOT / "code"
CONFIG_DIR = ML_ROOT / "input" / "config"
TORCH_DISTRIBUTED = "sagemaker_torch_distributed_enabled"  # the SDK's distribution={"torch_distributed": ...}
AWS_RENDEZVOUS_PORT = "7777"  # where the training toolkit's torchrun meets on AWS, one job per machine
ERROR_LINES = 20
# FailureReason holds 1024 characters: keep the end of stderr, where the exception is
ERROR_MESSAGE_CHARS = 600


def decoded_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """The SDK JSON-encodes each hyperparameter's value; a value that is not JSON is a plain string."""
    values: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            values[name] = json.loads(value)
        except (TypeError, ValueError):
            values[name] = value
    return values


def user_hyperparameters(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """The user's hyperparameters: without the SDK's ``sagemaker_*`` ones and a tuning job's
    ``_tuning_objective_metric``, as the training toolkit passes them to the script."""
    return {
        name: value
        for name, value in hyperparameters.items()
        if not name.startswith("sagemaker_") and name != TUNING_OBJECTIVE_METRIC
    }


def command_arguments(hyperparameters: dict[str, Any]) -> list[str]:
    """``--name value`` for each user hyperparameter, sorted by name, as the toolkit writes them."""
    arguments: list[str] = []
    for name in sorted(hyperparameters):
        value = hyperparameters[name]
        if isinstance(value, dict):
            value = ",".join(f"{key}={item}" for key, item in sorted(value.items()))
        arguments += [f"--{name}" if len(name) > 1 else f"-{name}", str(value)]
    return arguments


def training_environment(hyperparameters: dict[str, Any], program: str) -> dict[str, str]:
    """The ``SM_*`` variables of the training toolkit."""
    resources = json.loads((CONFIG_DIR / "resourceconfig.json").read_text())
    data_config = json.loads((CONFIG_DIR / "inputdataconfig.json").read_text())
    user = user_hyperparameters(hyperparameters)
    channels = sorted(data_config)
    cpus = len(os.sched_getaffinity(0))
    gpus = _gpu_count()
    values: dict[str, Any] = {
        "SM_MODEL_DIR": str(ML_ROOT / "model"),
        "SM_INPUT_DIR": str(ML_ROOT / "input"),
        "SM_INPUT_CONFIG_DIR": str(CONFIG_DIR),
        "SM_OUTPUT_DIR": str(ML_ROOT / "output"),
        "SM_OUTPUT_DATA_DIR": str(ML_ROOT / "output" / "data"),
        "SM_OUTPUT_INTERMEDIATE_DIR": str(ML_ROOT / "output" / "intermediate"),
        "SM_CHANNELS": json.dumps(channels),
        "SM_HPS": json.dumps(user),
        "SM_HOSTS": json.dumps(resources["hosts"]),
        "SM_CURRENT_HOST": resources["current_host"],
        "SM_CURRENT_INSTANCE_TYPE": resources.get("current_instance_type") or "",
        "SM_NETWORK_INTERFACE_NAME": resources.get("network_interface_name", "eth0"),
        "SM_NUM_CPUS": str(cpus),
        "SM_NUM_GPUS": str(gpus),
        "SM_NUM_NEURONS": "0",
        "SM_USER_ENTRY_POINT": program,
        "SM_MODULE_NAME": program.removesuffix(".py"),
        "SM_MODULE_DIR": str(hyperparameters.get("sagemaker_submit_directory", "")),
        "SM_LOG_LEVEL": str(hyperparameters.get("sagemaker_container_log_level", 20)),
        "SM_RESOURCE_CONFIG": json.dumps(resources),
        "SM_INPUT_DATA_CONFIG": json.dumps(data_config),
        "SM_USER_ARGS": json.dumps(command_arguments(user)),
        "SM_FRAMEWORK_MODULE": "",
        "SM_IS_HETERO": "false",
    }
    for channel in channels:
        values[f"SM_CHANNEL_{channel.upper()}"] = str(ML_ROOT / "input" / "data" / channel)
    for name, value in user.items():
        values[f"SM_HP_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    values["SM_TRAINING_ENV"] = json.dumps(
        {
            "channel_input_dirs": {c: values[f"SM_CHANNEL_{c.upper()}"] for c in channels},
            "current_host": resources["current_host"],
            "hosts": resources["hosts"],
            "master_hostname": resources["hosts"][0],
            "is_master": resources["current_host"] == resources["hosts"][0],
            "network_interface_name": values["SM_NETWORK_INTERFACE_NAME"],
            "additional_framework_parameters": {
                name: value for name, value in hyperparameters.items() if name.startswith("sagemaker_")
            },
            "hyperparameters": user,
            "input_data_config": data_config,
            "model_dir": values["SM_MODEL_DIR"],
            "module_name": values["SM_MODULE_NAME"],
            "num_cpus": cpus,
            "num_gpus": gpus,
            "output_data_dir": values["SM_OUTPUT_DATA_DIR"],
            "user_entry_point": program,
        }
    )
    return values


def program_command(program: str, arguments: list[str]) -> list[str]:
    if program.endswith(".sh"):
        return ["/bin/sh", program, *arguments]
    return [sys.executable, program, *arguments]


def torchrun_command(program: str, arguments: list[str]) -> list[str]:
    """torchrun as the PyTorch containers start it for ``torch_distributed``: on every host, one
    process per GPU (one on a CPU instance), algo-1 the rendezvous, the host's place in the list its
    node rank. The port is the one Nimbus names for the job (AWS's is 7777: one job per machine)."""
    resources = json.loads((CONFIG_DIR / "resourceconfig.json").read_text())
    hosts = resources["hosts"]
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", str(len(hosts))]
    command += ["--nproc_per_node", str(_gpu_count() or 1)]
    if len(hosts) > 1:
        port = os.environ.get(RENDEZVOUS_PORT_VARIABLE, AWS_RENDEZVOUS_PORT)
        command += ["--master_addr", hosts[0], "--master_port", port]
        command += ["--node_rank", str(hosts.index(resources["current_host"]))]
    return [*command, program, *arguments]


def _gpu_count() -> int:
    return len([device for device in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if device])


def _relay(stream: TextIO, kept: deque[str]) -> None:
    """Echoes the script's stderr into the log, keeping its last lines for the failure reason."""
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()
        kept.append(line)


def main() -> int:
    raw = json.loads((ML_ROOT / "input" / "config" / "hyperparameters.json").read_text())
    hyperparameters = decoded_hyperparameters(raw)
    program = str(hyperparameters["sagemaker_program"])
    if not (CODE_DIR / program).is_file():
        return _fail(f"ImportError: the entry point {program} is not in the source directory.")
    user = user_hyperparameters(hyperparameters)
    command = program_command(program, command_arguments(user))
    environment = training_environment(hyperparameters, program)
    if hyperparameters.get(TORCH_DISTRIBUTED) is True:
        if not program.endswith(".py"):
            return _fail(
                "Unsupported entry point type for torch_distributed: torchrun runs Python programs (*.py)."
            )
        command = torchrun_command(program, command_arguments(user))
        environment["NCCL_SOCKET_IFNAME"] = environment["SM_NETWORK_INTERFACE_NAME"]
    env = {
        **os.environ,
        **environment,
        "PYTHONPATH": os.pathsep.join([str(CODE_DIR), os.environ.get("PYTHONPATH", "")]),
    }
    (ML_ROOT / "output" / "intermediate").mkdir(parents=True, exist_ok=True)
    print(f"Invoking user script: {' '.join(command)}", flush=True)
    process = subprocess.Popen(command, cwd=CODE_DIR, env=env, stderr=subprocess.PIPE, text=True)
    kept: deque[str] = deque(maxlen=ERROR_LINES)
    assert process.stderr is not None
    relay = threading.Thread(target=_relay, args=(process.stderr, kept))
    relay.start()
    code = process.wait()
    relay.join()
    if code != 0:
        message = "".join(kept).strip()[-ERROR_MESSAGE_CHARS:]
        return _fail(
            f'ExecuteUserScriptError:\nExitCode {code}\nErrorMessage "{message}"\n'
            f'Command "{" ".join(command)}"',
            code,
        )
    return 0


def _fail(message: str, code: int = 1) -> int:
    (ML_ROOT / "output" / "failure").write_text(f"AlgorithmError: {message}")
    print(message, file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

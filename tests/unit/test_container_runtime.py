"""Where no container runtime works, SageMaker's refusal says so and how to install one."""

from __future__ import annotations

from pathlib import Path

from nimbus.engines.containers.runtime import ContainerRuntime, find_runtime, runtime_problem


def test_missing_runtime_says_how_to_install_one(tmp_path: Path) -> None:
    problem = runtime_problem(find_runtime(tmp_path, "no-such-container-runtime"))
    assert problem is not None and "apt-get install podman runc" in problem


def test_runtime_that_does_not_answer_is_a_problem(tmp_path: Path) -> None:
    problem = runtime_problem(ContainerRuntime("/bin/false", tmp_path))
    assert problem is not None and "/bin/false info failed" in problem

"""The traffic of a recommendation job's load tests, step by step: an Advanced job's TrafficPattern
(PHASES or STAIRS of load-test users), or a Default job's stairs, each ended by the job's
StoppingConditions as AWS ends them.

A user is one open-loop stream at the rate one user sends to the idle endpoint (1 / its idle latency).
A Default job (or one without a pattern) climbs from half the idle endpoint's rate, x GROWTH per
step of STEP_S seconds, until a step does not keep up, then bisects REFINEMENTS times between the
last step that kept up and the first that did not. The best rate found in short steps is then held
for SUSTAIN_S seconds, and lowered by SUSTAIN_BACKOFF until it holds (SUSTAIN_TRIES at most): the
job's figures come from the sustained step, as AWS reads them where invocations level off, and a
longer window makes them less sensitive to a short busy moment on the machine.
"""

from __future__ import annotations

from typing import Any

from nimbus.services.sagemaker.recommendations.benchmark import LoadSettings, Measurement, Plan, keeps_up

STEP_S = 3.0
GROWTH = 1.5
MAX_RAMP_STEPS = 14
REFINEMENTS = 3
FLAT = 1.05  # a step that does not keep up and answers less than 5% more than the one before: flat
SUSTAIN_S = 10.0
SUSTAIN_BACKOFF = 0.9
SUSTAIN_TRIES = 3


def traffic_plan(pattern: dict[str, Any] | None, settings: LoadSettings) -> Plan:
    """The job's traffic: its pattern's steps, or a Default job's stairs and bisections."""

    def stopped(measurement: Measurement) -> bool:
        steps = measurement.steps
        if not steps:
            return False
        last = steps[-1]
        if settings.max_invocations is not None and last["achieved"] * 60 >= settings.max_invocations:
            return True
        if not keeps_up(last, settings) and settings.latency_threshold_ms is not None and last["errors"] == 0:
            return last["latency_at"] is None or last["latency_at"] > settings.latency_threshold_ms
        flat = len(steps) > 1 and last["achieved"] <= FLAT * steps[-2]["achieved"]
        return settings.stop_when_flat and flat and not keeps_up(last, settings)

    def user_steps(idle_ms: float) -> list[dict[str, float]]:
        per_user = 1000.0 / max(idle_ms, 0.1)  # a user: what one sends to an idle endpoint, open-loop
        assert pattern is not None
        if pattern.get("TrafficType") == "STAIRS" or "Stairs" in pattern:
            stairs = pattern["Stairs"]
            return [
                {"rate": step * stairs["UsersPerStep"] * per_user, "duration": stairs["DurationInSeconds"]}
                for step in range(1, stairs["NumberOfSteps"] + 1)
            ]
        return [
            {
                "rate": phase["InitialNumberOfUsers"] * per_user,
                "end_rate": (
                    phase["InitialNumberOfUsers"]
                    + phase.get("SpawnRate", 0) * phase["DurationInSeconds"] / 60
                )
                * per_user,
                "duration": phase["DurationInSeconds"],
            }
            for phase in pattern["Phases"]
        ]

    def pattern_plan(measurement: Measurement, idle_ms: float) -> list[dict[str, float]] | None:
        planned = user_steps(idle_ms)
        done = len(measurement.steps)
        return None if done >= len(planned) or stopped(measurement) else [planned[done]]

    def stairs_plan(measurement: Measurement, idle_ms: float) -> list[dict[str, float]] | None:
        steps = measurement.steps
        if not steps:
            return [{"rate": 500.0 / max(idle_ms, 0.1), "duration": STEP_S}]
        failing = [step["offered"] for step in steps if not keeps_up(step, settings)]
        if not failing:
            stop = len(steps) >= MAX_RAMP_STEPS or stopped(measurement)
            return None if stop else [{"rate": steps[-1]["offered"] * GROWTH, "duration": STEP_S}]
        first_failure = steps.index(next(step for step in steps if not keeps_up(step, settings)))
        holding = [
            step["offered"] for step in steps if keeps_up(step, settings) and step["offered"] < min(failing)
        ]
        if not holding:
            return None
        if len(steps) - 1 - first_failure < REFINEMENTS:
            return [{"rate": (max(holding) * min(failing)) ** 0.5, "duration": STEP_S}]
        return sustain(steps, max(holding))

    def sustain(steps: list[dict[str, Any]], best_short: float) -> list[dict[str, float]] | None:
        held = [step for step in steps if step["sustained"]]
        if not held:
            return [{"rate": best_short, "duration": SUSTAIN_S, "sustained": True}]
        if keeps_up(held[-1], settings) or len(held) >= SUSTAIN_TRIES:
            return None
        return [{"rate": held[-1]["offered"] * SUSTAIN_BACKOFF, "duration": SUSTAIN_S, "sustained": True}]

    return pattern_plan if pattern else stairs_plan

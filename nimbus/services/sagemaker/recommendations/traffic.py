"""The traffic of a recommendation job's load tests, step by step: an Advanced job's TrafficPattern
(PHASES or STAIRS of load-test users), or a Default job's stairs, each ended by the job's
StoppingConditions as AWS ends them.

A user is one open-loop stream at the rate one user sends to the idle endpoint (1 / its idle latency).
A Default job (or one without a pattern) finds the highest rate the endpoint sustains:

1. it climbs from half the idle endpoint's rate, x GROWTH per step of STEP_S seconds, until a step
   does not keep up (or descends / GROWTH per step until one does, when the first did not), then
   bisects REFINEMENTS times (geometrically) between the highest step that kept up and the lowest
   that did not: short steps that bracket the knee cheaply;
2. it holds the best short rate for SUSTAIN_S seconds; while no held step kept up it lowers the rate
   by SUSTAIN_BACKOFF; once one did, it raises the rate by SUSTAIN_PROBE until a held step does not
   keep up, then bisects between the highest held rate that kept up and the lowest held rate above
   it that did not, until they are within RESOLUTION of each other (SUSTAIN_TRIES held steps at
   most).

The job's figures come from the highest sustained step that kept up, as AWS reads them where
invocations level off: MaxInvocations is then known to within RESOLUTION (a fixed backoff would
quantise it in steps of 10%). Only held steps bound it: each sends thousands of requests, so a short
busy moment on the machine moves its figures little, where a 3 s step that a busy moment failed would
otherwise cap every later held step below the endpoint's real rate.
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
SUSTAIN_PROBE = 1.1
RESOLUTION = 1.05  # the sustained search ends when the failing rate is within 5% of the held one
SUSTAIN_TRIES = 6


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
            return (
                last["model_latency_at"] is None or last["model_latency_at"] > settings.latency_threshold_ms
            )
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
        if not holding:  # even the first rate did not keep up: look lower (a busy moment, a slow model)
            descend = [{"rate": min(failing) / GROWTH, "duration": STEP_S}]
            return None if len(steps) >= MAX_RAMP_STEPS else descend
        if len(steps) - 1 - first_failure < REFINEMENTS:
            return [{"rate": (max(holding) * min(failing)) ** 0.5, "duration": STEP_S}]
        return sustain(steps, max(holding))

    def sustain(steps: list[dict[str, Any]], best_short: float) -> list[dict[str, float]] | None:
        """The next held step of the sustained search, None when it is done."""
        held = [step for step in steps if step["sustained"]]
        if not held:
            return [held_step(best_short)]
        if len(held) >= SUSTAIN_TRIES:
            return None
        kept = [step["offered"] for step in held if keeps_up(step, settings)]
        failed = [step["offered"] for step in held if not keeps_up(step, settings)]
        if not kept:
            return [held_step(min(failed) * SUSTAIN_BACKOFF)]
        above = [rate for rate in failed if rate > max(kept)]
        if not above:
            return [held_step(max(kept) * SUSTAIN_PROBE)]
        if min(above) <= RESOLUTION * max(kept):
            return None
        return [held_step((max(kept) * min(above)) ** 0.5)]

    def held_step(rate: float) -> dict[str, float]:
        return {"rate": rate, "duration": SUSTAIN_S, "sustained": True}

    return pattern_plan if pattern else stairs_plan

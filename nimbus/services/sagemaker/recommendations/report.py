"""A candidate's metrics as Inference Recommender reports them, each with how it was obtained:

- measured: load-tested here at the type's own vCPUs (and GPUs);
- projected: the type has more vCPUs than this machine; throughput is scaled from the core counts
  measured here (scaling.py), the rest taken at the largest measured count, the basis shown;
- published: a price from the instance table, with its source, region and date;
- not measurable: a GPU type on a machine without a GPU; only its published figures are given.

AWS's formulas: CostPerHour = price x instance count; CostPerInference = CostPerHour /
(MaxInvocations x 60). CpuUtilization adds up the cores (up to 100 x vCPUs, as CloudWatch's
endpoint metric); MemoryUtilization is the model server's resident memory over the type's memory.
ModelSetupTime is in microseconds (as CloudWatch's), from the worker's start to its first /ping.
ModelLatency (the asked percentile; P50 in the report) is AWS's: the container's time as
InvokeEndpoint sees it. The report adds EndToEndLatency, what the open-loop load generator saw from
each request's intended send time (the gateway and any queue before it included), under its own name.
"""

from __future__ import annotations

from typing import Any

from nimbus.engines import devices
from nimbus.services.instance_catalog import GIB, InstanceType
from nimbus.services.sagemaker.recommendations.benchmark import Measurement
from nimbus.services.sagemaker.recommendations.scaling import project

MEASURED = "measured"
PROJECTED = "projected"
PUBLISHED = "published"
NOT_MEASURABLE = "not measurable"


def figure(value: Any, kind: str, basis: str, **more: Any) -> dict[str, Any]:
    return {"value": value, "kind": kind, "basis": basis, **more}


def price_figures(instance: InstanceType, count: int) -> dict[str, dict[str, Any]]:
    if instance.price_per_hour is None:
        return {
            "CostPerHour": figure(
                None,
                NOT_MEASURABLE,
                f"no published price for {instance.name} in the instance table: "
                "add one with NIMBUS_INSTANCE_TYPES",
            )
        }
    return {
        "CostPerHour": figure(
            instance.price_per_hour * count,
            PUBLISHED,
            f"{instance.price_per_hour} USD/hour x {count} instance(s); "
            f"price: {instance.sources.get('price')}",
        )
    }


def gpu_unmeasurable(instance: InstanceType, count: int) -> dict[str, dict[str, Any]]:
    """A GPU type here without a GPU: its published figures, and why the rest is not measured."""
    why = (
        f"{instance.name} runs on {instance.gpu_description} "
        f"({instance.sources.get('gpus', 'no GPU source')}); "
        "this machine has no GPU, and a CPU measurement says nothing of a GPU's"
    )
    figures = price_figures(instance, count)
    for name in ("MaxInvocations", "ModelLatency", "CpuUtilization", "MemoryUtilization", "ModelSetupTime"):
        figures[name] = figure(None, NOT_MEASURABLE, why)
    return figures


def measured_figures(
    instance: InstanceType, count: int, points: list[Measurement], percentile_name: str
) -> dict[str, dict[str, Any]]:
    """The metrics from the measurements of this candidate: one at its own cores (measured), or
    several at fewer cores than it has (projected)."""
    largest = max(points, key=lambda point: point.cores)
    best = largest.best or {}
    own = largest.cores == instance.vcpus or instance.has_gpu
    kind = MEASURED if own else PROJECTED
    where = f"at {largest.cores} core(s)"
    if largest.gpus:
        where += f" and {largest.gpus} GPU(s) of this machine ({', '.join(devices.gpu_names())})"
        where += f"; the type has {instance.gpu_description}"
    figures = price_figures(instance, count)
    if own:
        throughput = largest.throughput * count
        figures["MaxInvocations"] = figure(
            round(throughput * 60),
            MEASURED,
            f"the best {'sustained ' if best.get('sustained') else ''}load-test step that kept up, {where}: "
            f"{best.get('offered', 0) * 60:.0f}/min offered, "
            f"{best.get('achieved', 0) * 60:.0f}/min answered"
            + (f", x {count} instances" if count > 1 else ""),
        )
    else:
        projection = project([(point.cores, point.throughput) for point in points], instance.vcpus)
        throughput = projection.value * count
        # whether the model server was what limited each point, or what shares this machine with it
        usage = ", ".join(
            f"{(point.best or {}).get('cpu_percent', 0.0):.0f}% of {100 * point.cores}% at {point.cores}"
            for point in sorted(points, key=lambda point: point.cores)
        )
        figures["MaxInvocations"] = figure(
            round(throughput * 60),
            PROJECTED,
            f"{projection.basis}; the model server's CPU use at those points: {usage}",
            range=[round(projection.low * 60 * count), round(projection.high * 60 * count)],
        )
    taken = "" if own else f"; taken at {largest.cores} cores for {instance.vcpus} vCPUs"
    rate = f"at the step MaxInvocations comes from ({best.get('achieved', 0) * 60:.0f}/min), {where}"
    model = f"{rate}: the container's time as InvokeEndpoint sees it, AWS's ModelLatency{taken}"
    end_to_end = (
        f"{rate}: from each request's intended send time (open-loop) to its answer at the load "
        f"generator, through the gateway (SigV4, authorization){taken}"
    )
    for name, key, percentile, basis in (
        ("ModelLatency", "model_latency_at", percentile_name, model),
        ("ModelLatencyP50", "model_latency_p50", "P50", model),
        ("EndToEndLatency", "latency_at", percentile_name, end_to_end),
        ("EndToEndLatencyP50", "latency_p50", "P50", end_to_end),
    ):
        value = best.get(key)
        figures[name] = figure(_ms(value), kind, f"{percentile} {basis}", milliseconds=value)
    cpu = best.get("cpu_percent", 0.0)
    figures["CpuUtilization"] = (
        figure(cpu, MEASURED, f"the model server's CPU time over the step, {where}, summed over cores")
        if own
        else figure(
            cpu * instance.vcpus / largest.cores,
            PROJECTED,
            f"{cpu:.0f}% measured on {largest.cores} cores, the same per-core use on {instance.vcpus} vCPUs",
        )
    )
    rss = best.get("rss_bytes", 0)
    figures["MemoryUtilization"] = figure(
        100 * rss / (instance.memory_gib * GIB),
        MEASURED,
        f"the model server's resident memory ({rss / GIB:.2f} GiB, measured) "
        f"over {instance.memory_gib:g} GiB",
    )
    figures["ModelSetupTime"] = figure(
        largest.setup_us,
        MEASURED,
        f"from the worker's start to its first /ping answer, {where} (microseconds)",
    )
    _add_cost_per_inference(figures, throughput)
    return figures


def _add_cost_per_inference(figures: dict[str, dict[str, Any]], throughput: float) -> None:
    cost = figures["CostPerHour"]
    if cost["value"] is None or throughput <= 0:
        figures["CostPerInference"] = figure(None, NOT_MEASURABLE, "needs CostPerHour and MaxInvocations")
        return
    invocations = round(throughput * 60)
    kind = PROJECTED if figures["MaxInvocations"]["kind"] == PROJECTED else MEASURED
    figures["CostPerInference"] = figure(
        cost["value"] / (invocations * 60),
        kind,
        f"CostPerHour / (MaxInvocations x 60) = {cost['value']} / ({invocations} x 60)",
    )


def _ms(value: float | None) -> int | None:
    return None if value is None else max(0, round(value))


def aws_metrics(figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The RecommendationMetrics members that have a value."""
    names = (
        "CostPerHour",
        "CostPerInference",
        "MaxInvocations",
        "ModelLatency",
        "CpuUtilization",
        "MemoryUtilization",
        "ModelSetupTime",
    )
    return {
        name: figures[name]["value"]
        for name in names
        if name in figures and figures[name]["value"] is not None
    }


def ranking_key(figures: dict[str, dict[str, Any]]) -> tuple[float, float]:
    """Cheapest per inference first (types without a cost after), then the most invocations."""
    cost = figures.get("CostPerInference", {}).get("value")
    invocations = figures.get("MaxInvocations", {}).get("value") or 0
    return (cost if cost is not None else float("inf"), -invocations)

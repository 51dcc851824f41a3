"""`nimbus advise`: which instance type to choose, asked of a running Nimbus through its SageMaker
extensions (signed with the caller's AWS credentials, as any SDK call):

    nimbus advise training job.json [--instance-types ml.m5.xlarge,ml.g4dn.xlarge] [--json]
    nimbus advise recommendation JOB_NAME [--json]

``training`` probes a CreateTrainingJob request (the JSON file) and projects it to each type: time,
cost, the cheapest and the fastest. ``recommendation`` shows an Inference Recommender job's figures
with how each was obtained. Both print a table, or the JSON answer with ``--json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from nimbus.config import Settings

advise = typer.Typer(help="Choose an instance type from measurements.", no_args_is_help=True)
EXTENSIONS = "/_nimbus/sagemaker/"
TIMEOUT_S = 900.0
JsonOption = Annotated[bool, typer.Option("--json", help="Print the JSON answer instead of a table.")]
EndpointOption = Annotated[
    str | None, typer.Option(help="Nimbus's URL [env AWS_ENDPOINT_URL; default: this machine's].")
]


def _call(method: str, path: str, endpoint_url: str | None, body: dict[str, Any] | None = None) -> Any:
    """The extension's JSON answer; exits with its error message when it refuses."""
    # imported here: every `nimbus` command loads this module, and these take half a second
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import get_session

    session = get_session()
    credentials = session.get_credentials()
    if credentials is None:
        Console(stderr=True).print('[red]no AWS credentials[/red]: eval "$(nimbus env)" first')
        raise typer.Exit(1)
    url = (endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or Settings().endpoint_url).rstrip("/") + path
    data = json.dumps(body).encode() if body is not None else b""
    request = AWSRequest(method, url, data=data, headers={"Content-Type": "application/json"})
    region = session.get_config_variable("region") or Settings().region
    SigV4Auth(credentials.get_frozen_credentials(), "sagemaker", region).add_auth(request)
    answer = httpx.request(
        method,
        url,
        content=data,
        headers=dict(request.headers.items()),
        timeout=TIMEOUT_S,
        verify=os.environ.get("AWS_CA_BUNDLE") or True,  # a Nimbus serving TLS with its own CA
    )
    if answer.status_code != 200:
        Console(stderr=True).print(f"[red]{answer.status_code}[/red] {answer.text}")
        raise typer.Exit(1)
    return answer.json()


def _shown(item: dict[str, Any], unit: str = "") -> str:
    if item["value"] is None:
        return f"- ({item['kind']})"
    value = item["value"]
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{text}{unit} ({item['kind']})"


@advise.command()
def training(
    job: Annotated[Path, typer.Argument(help="A CreateTrainingJob request as JSON.")],
    instance_types: Annotated[
        str, typer.Option(help="Comma-separated types (default: a CPU and GPU mix).")
    ] = "",
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """Probe a training job here and project it to each instance type: time, cost, cheapest, fastest."""
    body = {
        "TrainingJob": json.loads(job.read_text()),
        "InstanceTypes": [name for name in instance_types.split(",") if name],
    }
    answer = _call("POST", EXTENSIONS + "training-advice", endpoint_url, body)
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    table = Table("instance type", "USD/hour", "training time", "cost (USD)", "how")
    for candidate in answer["Candidates"]:
        seconds, cost = candidate["TrainingSeconds"], candidate["Cost"]
        marks = " [green]cheapest[/green]" if candidate["InstanceType"] == answer["Cheapest"] else ""
        marks += " [cyan]fastest[/cyan]" if candidate["InstanceType"] == answer["Fastest"] else ""
        table.add_row(
            candidate["InstanceType"] + marks,
            str(candidate["PricePerHour"] if candidate["PricePerHour"] is not None else "-"),
            _shown(seconds, " s"),
            _shown(cost),
            seconds["basis"],
        )
    console = Console()
    console.print(table)
    probe = answer["Probe"]
    console.print(
        f"probe: {probe['probe_rows']} of {probe['rows']} rows, {probe['probe_rounds']} of {probe['rounds']} "
        f"rounds, on {answer['Machine']['cpus']} cores and {len(answer['Machine']['gpus'])} GPU(s) here"
    )


@advise.command()
def recommendation(
    job_name: Annotated[str, typer.Argument(help="An Inference Recommender job.")],
    endpoint_url: EndpointOption = None,
    as_json: JsonOption = False,
) -> None:
    """An Inference Recommender job's figures, marked measured, projected, published or not measurable."""
    answer = _call("GET", EXTENSIONS + f"inference-recommendations/{job_name}", endpoint_url)
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    table = Table(
        "rank", "instance type", "MaxInvocations/min", "ModelLatency ms", "USD/hour", "USD/inference"
    )
    for candidate in sorted(answer.get("candidates", []), key=lambda item: item["Rank"]):
        figures = candidate["Figures"]
        table.add_row(
            str(candidate["Rank"]),
            candidate["InstanceType"],
            _shown(figures["MaxInvocations"]),
            _shown(figures["ModelLatency"]),
            _shown(figures["CostPerHour"]),
            _shown(figures.get("CostPerInference", {"value": None, "kind": "not measurable"})),
        )
    console = Console()
    console.print(table)
    console.print(f"{answer['JobName']}: {answer['Status']} {answer.get('FailureReason') or ''}")

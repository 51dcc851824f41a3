"""CloudWatch's two wire protocols as Nimbus serves them, both from botocore's one model.

botocore models CloudWatch with the protocols smithy-rpc-v2-cbor, json and query; current botocore
(and the AWS CLI) pick JSON (``X-Amz-Target: GraniteServiceVersion20100801.*``), older SDKs send
query-protocol form posts. Each variant is the model with its ``protocol`` set to the one it serves."""

from __future__ import annotations

import copy
from functools import cache

from botocore.model import ServiceModel

from nimbus.services.models import service_data


@cache
def cloudwatch_json_model() -> ServiceModel:
    data = copy.deepcopy(service_data("cloudwatch"))
    data["metadata"].update(protocol="json", protocols=["json"])
    return ServiceModel(data, service_name="cloudwatch")


@cache
def cloudwatch_query_model() -> ServiceModel:
    data = copy.deepcopy(service_data("cloudwatch"))
    metadata = data["metadata"]
    for name in ("targetPrefix", "jsonVersion", "awsQueryCompatible"):
        metadata.pop(name, None)
    metadata.update(protocol="query", protocols=["query"])
    for operation in data["operations"].values():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{operation['name']}Result"
    return ServiceModel(data, service_name="cloudwatch")

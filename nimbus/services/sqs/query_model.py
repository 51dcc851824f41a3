"""SQS's query protocol, which older SDKs and tools still speak (form posts answered with XML).

botocore now models SQS in JSON only, and that model lost the query protocol's wire names
(``AttributeName.1``, ``MessageAttribute.1.Name``, ``<Message>``...). The query model is the same
model with those names put back, as AWS's SQS query API reference gives them."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from botocore.model import ServiceModel

from nimbus.services.models import service_data

XML_NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"

# list shape -> the query name of its members
LIST_MEMBER_NAMES = {
    "AWSAccountIdList": "AWSAccountId",
    "ActionNameList": "ActionName",
    "AttributeNameList": "AttributeName",
    "BatchResultErrorEntryList": "BatchResultErrorEntry",
    "BinaryList": "BinaryListValue",
    "ChangeMessageVisibilityBatchRequestEntryList": "ChangeMessageVisibilityBatchRequestEntry",
    "ChangeMessageVisibilityBatchResultEntryList": "ChangeMessageVisibilityBatchResultEntry",
    "DeleteMessageBatchRequestEntryList": "DeleteMessageBatchRequestEntry",
    "DeleteMessageBatchResultEntryList": "DeleteMessageBatchResultEntry",
    "ListMessageMoveTasksResultEntryList": "ListMessageMoveTasksResultEntry",
    "MessageAttributeNameList": "MessageAttributeName",
    "MessageList": "Message",
    "MessageSystemAttributeList": "MessageSystemAttributeName",
    "QueueUrlList": "QueueUrl",
    "SendMessageBatchRequestEntryList": "SendMessageBatchRequestEntry",
    "SendMessageBatchResultEntryList": "SendMessageBatchResultEntry",
    "StringList": "StringListValue",
    "TagKeyList": "TagKey",
}
# map shape -> the query names of its keys and values
MAP_ENTRY_NAMES = {
    "MessageBodyAttributeMap": ("Name", "Value"),
    "MessageBodySystemAttributeMap": ("Name", "Value"),
    "MessageSystemAttributeMap": ("Name", "Value"),
    "QueueAttributeMap": ("Name", "Value"),
    "TagMap": ("Key", "Value"),
}
# structure member name -> its query name, wherever it appears
MEMBER_NAMES = {
    "Attributes": "Attribute",
    "MessageAttributes": "MessageAttribute",
    "MessageSystemAttributes": "MessageSystemAttribute",
    "tags": "Tag",
    "Tags": "Tag",
    "StringListValues": "StringListValue",
    "BinaryListValues": "BinaryListValue",
    "queueUrls": "QueueUrl",
}


@cache
def sqs_query_model() -> ServiceModel:
    data = copy.deepcopy(service_data("sqs"))
    metadata = data["metadata"]
    for name in ("targetPrefix", "jsonVersion", "awsQueryCompatible"):
        metadata.pop(name, None)
    metadata.update(protocol="query", protocols=["query"], xmlNamespace=XML_NAMESPACE)
    for operation in data["operations"].values():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{operation['name']}Result"
    for name, shape in data["shapes"].items():
        _rename(name, shape)
    return ServiceModel(data, service_name="sqs")


def _rename(name: str, shape: dict[str, Any]) -> None:
    if name in LIST_MEMBER_NAMES:
        shape["member"]["locationName"] = LIST_MEMBER_NAMES[name]
    if name in MAP_ENTRY_NAMES:
        shape["key"]["locationName"], shape["value"]["locationName"] = MAP_ENTRY_NAMES[name]
    for member_name, member in shape.get("members", {}).items():
        if member_name in MEMBER_NAMES:
            member["locationName"] = MEMBER_NAMES[member_name]

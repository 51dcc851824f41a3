"""SQS's errors: each named by its shape (the JSON protocol), with the query protocol's code in the
``x-amzn-query-error`` header, as SQS answers both."""

from __future__ import annotations

from nimbus.errors import AwsError
from nimbus.protocol.serializers import QUERY_ERROR_HEADER

# shape name -> the query protocol's code, where it differs
QUERY_CODES = {
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
}


def sqs_error(code: str, message: str, status: int = 400) -> AwsError:
    legacy = QUERY_CODES.get(code, code)
    fault = "Sender" if status < 500 else "Receiver"
    return AwsError(code, message, status, headers={QUERY_ERROR_HEADER: f"{legacy};{fault}"})


def invalid_parameter(message: str) -> AwsError:
    return sqs_error("InvalidParameterValue", message)


def queue_does_not_exist() -> AwsError:
    return sqs_error("QueueDoesNotExist", "The specified queue does not exist.")


def invalid_attribute_value(name: str, reason: str) -> AwsError:
    return sqs_error("InvalidAttributeValue", f"Invalid value for the parameter {name}. Reason: {reason}")


def invalid_attribute_name(name: str) -> AwsError:
    return sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")


def receipt_handle_invalid(handle: str) -> AwsError:
    return sqs_error(
        "ReceiptHandleIsInvalid", f'The input receipt handle "{handle}" is not a valid receipt handle.'
    )

"""CloudWatch's errors: the JSON protocol names each by its code and repeats it in
``x-amzn-query-error`` (CloudWatch is query-compatible), so every client sees the query code."""

from __future__ import annotations

from nimbus.errors import AwsError
from nimbus.protocol.serializers import QUERY_ERROR_HEADER


def cloudwatch_error(code: str, message: str, status: int = 400) -> AwsError:
    fault = "Sender" if status < 500 else "Receiver"
    return AwsError(code, message, status, headers={QUERY_ERROR_HEADER: f"{code};{fault}"})


def invalid_value(message: str) -> AwsError:
    return cloudwatch_error("InvalidParameterValue", message)


def invalid_combination(message: str) -> AwsError:
    return cloudwatch_error("InvalidParameterCombination", message)


def missing_parameter(message: str) -> AwsError:
    return cloudwatch_error("MissingParameter", message)


def validation_error(message: str) -> AwsError:
    return cloudwatch_error("ValidationError", message)

"""Code hooks: the Lex V2 Lambda input event POSTed as JSON to the alias's hook endpoint, and the
Lambda response read back and checked against Lex's shapes. In Nimbus the alias's ``lambdaARN`` is
the http(s) URL of that endpoint."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from nimbus.protocol.json_codec import JsonShapeError, from_json
from nimbus.protocol.validate import describe, validation_errors
from nimbus.services.lexv2_runtime.errors import dependency_failed
from nimbus.services.models import load_service_model

HOOK_TIMEOUT_S = 10.0
MESSAGE_VERSION = "1.0"

# posts an input event to a hook URL and returns the validated Lambda response
CodeHookCaller = Callable[[str, dict[str, Any]], dict[str, Any]]


def invoke_code_hook(url: str, event: dict[str, Any]) -> dict[str, Any]:
    """The hook's response; DependencyFailedException when it times out, fails or answers badly."""
    if not url.startswith(("http://", "https://")):
        raise dependency_failed(f"Invalid Lambda endpoint {url}: Nimbus calls code hooks over http(s).")
    request = urllib.request.Request(
        url, data=json.dumps(event).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=HOOK_TIMEOUT_S) as reply:
            body = reply.read()
    except urllib.error.HTTPError as error:
        raise dependency_failed(f"Lambda function {url} failed with HTTP status {error.code}.") from None
    except TimeoutError:
        raise dependency_failed(
            f"Lambda function {url} timed out after {HOOK_TIMEOUT_S:g} seconds."
        ) from None
    except (urllib.error.URLError, OSError) as error:
        raise dependency_failed(f"Lambda function {url} could not be invoked: {error}") from None
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _invalid("the response is not JSON") from None
    return lambda_response(document)


def lambda_response(document: Any) -> dict[str, Any]:
    """The Lambda response as Lex's shapes, or DependencyFailedException saying what is wrong."""
    if not isinstance(document, dict) or not isinstance(document.get("sessionState"), dict):
        raise _invalid("the response must be a JSON object with a sessionState")
    model = load_service_model("lexv2-runtime")
    parsed: dict[str, Any] = {}
    for name, shape_name in (
        ("sessionState", "SessionState"),
        ("messages", "Messages"),
        ("requestAttributes", "StringMap"),
    ):
        if document.get(name) is None:
            continue
        shape = model.shape_for(shape_name)
        try:
            parsed[name] = from_json(shape, document[name], name)
        except JsonShapeError as error:
            raise _invalid(str(error)) from None
    errors = validation_errors(model.shape_for("SessionState"), parsed["sessionState"])
    if "dialogAction" not in parsed["sessionState"]:
        errors.append("sessionState.dialogAction is required")
    if errors:
        raise _invalid(describe(errors))
    _check_dialog_action(parsed["sessionState"])
    return parsed


def _check_dialog_action(state: dict[str, Any]) -> None:
    action = state["dialogAction"]
    kind = action["type"]
    if kind in ("ElicitSlot", "ConfirmIntent", "Close", "Delegate") and "intent" not in state:
        raise _invalid(f"sessionState.intent is required when the dialog action is {kind}")
    if kind == "ElicitSlot" and not action.get("slotToElicit"):
        raise _invalid("dialogAction.slotToElicit is required when the dialog action is ElicitSlot")
    if kind == "Close" and state["intent"].get("state") not in (
        "Fulfilled",
        "Failed",
        "InProgress",
        "ReadyForFulfillment",
    ):
        raise _invalid(
            "sessionState.intent.state must be Fulfilled, Failed, InProgress or ReadyForFulfillment on Close"
        )


def _invalid(reason: str) -> Exception:
    return dependency_failed(f"Invalid Lambda Response: Received invalid response from Lambda: {reason}")

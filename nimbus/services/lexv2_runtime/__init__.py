"""Amazon Lex V2 runtime: conversations with built bots (RecognizeText, RecognizeUtterance) and
their sessions."""

from __future__ import annotations

from nimbus.services.registry import Service

lexv2_runtime = Service("lexv2-runtime")

# the operation modules register themselves on import; ListAggregatedUtterances and the test
# workbench's executions are lexv2-models operations that read or take the runtime's turns
from nimbus.services.lexv2_models import aggregated_utterances  # noqa: E402, F401
from nimbus.services.lexv2_runtime import (  # noqa: E402, F401
    recognize,
    sessions,
    start_conversation,
    test_executions,
)

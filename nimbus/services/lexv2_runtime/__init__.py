"""Amazon Lex V2 runtime: conversations with built bots (RecognizeText, RecognizeUtterance) and
their sessions."""

from __future__ import annotations

from nimbus.services.registry import Service

lexv2_runtime = Service("lexv2-runtime")

# the operation modules register themselves on import
# ListAggregatedUtterances (a lexv2-models operation) counts what the runtime records
from nimbus.services.lexv2_models import aggregated_utterances  # noqa: E402, F401
from nimbus.services.lexv2_runtime import recognize, sessions  # noqa: E402, F401

"""Amazon Lex V2 model building: bots, locales, intents, slots, slot types, builds, versions,
aliases, and Lex JSON export and import."""

from __future__ import annotations

from nimbus.services.registry import Service

# A code hook's lambdaARN may also be an http(s) URL: Nimbus has no Lambda, so it posts Lex's
# Lambda event to that URL instead (see aliases.py).
lexv2_models = Service("lexv2-models", unchecked_patterns=frozenset({"LambdaARN"}))

# the operation modules register themselves on import
from nimbus.services.lexv2_models import (  # noqa: E402, F401
    aliases,
    analytics,
    bots,
    build,
    builtins,
    discrepancy_reports,
    export_import,
    intents,
    locales,
    slot_types,
    slots,
    tag_keys,
    tagging,
    test_sets,
    versions,
)

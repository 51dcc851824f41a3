"""The tags of bots, bot aliases and test sets (given when they were created: ``botTags``,
``testBotAliasTags``, an alias's ``tags``, ``testSetTags``; or by TagResource) as the
``aws:ResourceTag/*`` keys that the authorization step reads for Lex's actions on them, model
building and runtime alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.resource_tags import tag_condition_keys
from nimbus.storage import Storage
from nimbus.storage.lex_schema import LexBotAliasRecord, LexBotRecord
from nimbus.storage.lex_workbench_schema import LexTestSetRecord

BOTS = LexBotRecord.__table__
ALIASES = LexBotAliasRecord.__table__
TEST_SETS = LexTestSetRecord.__table__


def bot_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
    """Of ``arn:aws:lex:<region>:<account>:bot/<botId>``, ``...:bot-alias/<botId>/<botAliasId>`` or
    ``...:test-set/<testSetId>``."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "lex":
        return {}
    kind, _, ids = parts[5].partition("/")
    bot_id, _, alias_id = ids.partition("/")
    owned = (BOTS.c.account_id == parts[4]) & (BOTS.c.region == parts[3]) & (BOTS.c.bot_id == bot_id)
    with storage.database.engine.connect() as connection:
        if kind == "bot":
            definition: Any = connection.scalar(select(BOTS.c.definition).where(owned))
            return tag_condition_keys((definition or {}).get("botTags"))
        if kind == "bot-alias":
            query = (
                select(ALIASES.c.definition)
                .join(BOTS, BOTS.c.bot_id == ALIASES.c.bot_id)
                .where(owned, ALIASES.c.bot_alias_id == alias_id)
            )
            definition = connection.scalar(query)
            return tag_condition_keys((definition or {}).get("tags"))
        if kind == "test-set":
            query = select(TEST_SETS.c.definition).where(
                TEST_SETS.c.account_id == parts[4],
                TEST_SETS.c.region == parts[3],
                TEST_SETS.c.test_set_id == ids,
            )
            definition = connection.scalar(query)
            return tag_condition_keys((definition or {}).get("testSetTags"))
    return {}


lexv2_models.resource_tags(bot_tag_keys)

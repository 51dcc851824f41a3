"""The bot locale a runtime request addresses, through its alias, as lexv2-models built it."""

from __future__ import annotations

from typing import Any

from nimbus.services.lexv2_models.snapshots import LocaleNotBuilt, load_locale_snapshot, resolve_alias
from nimbus.services.lexv2_runtime.bot_locale import BotLocale
from nimbus.services.lexv2_runtime.errors import validation
from nimbus.services.registry import RequestContext


def open_bot_locale(ctx: RequestContext, request: dict[str, Any]) -> BotLocale:
    """The alias's bot version in the request's locale; the errors lexv2-models raises for an unknown
    bot, alias or locale; ValidationException for an unbuilt locale or one the alias turned off."""
    bot_id, locale_id = request["botId"], request["localeId"]
    alias = resolve_alias(ctx, bot_id, request["botAliasId"])
    settings = (alias.get("botAliasLocaleSettings") or {}).get(locale_id)
    if settings is not None and not settings.get("enabled", True):
        raise validation(f"Locale {locale_id} is not enabled for bot alias {request['botAliasId']}.")
    try:
        snapshot = load_locale_snapshot(ctx, bot_id, alias["botVersion"], locale_id)
    except LocaleNotBuilt as error:
        raise validation(error.message) from None
    return BotLocale(snapshot, alias)

"""Lex's JSON export format, zipped: definitions refer to each other by name so an archive can be
imported into another bot, where every resource gets a new id.

    <Bot>/Manifest.json                          {"metadata": {"schemaVersion", "fileFormat", "resourceType"}}
    <Bot>/Bot.json                                (a bot export only)
    <Bot>/BotLocales/<locale>/BotLocale.json
    <Bot>/BotLocales/<locale>/Intents/<intent>/Intent.json
    <Bot>/BotLocales/<locale>/Intents/<intent>/Slots/<slot>/Slot.json
    <Bot>/BotLocales/<locale>/SlotTypes/<slot type>/SlotType.json
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = "1"
_OMITTED = (
    "botId",
    "botVersion",
    "localeId",
    "creationDateTime",
    "lastUpdatedDateTime",
    "intentId",
    "slotId",
    "slotTypeId",
    "slotPriorities",
    "botStatus",
    "botLocaleStatus",
    "failureReasons",
    "intentsCount",
    "slotTypesCount",
    "botLocaleHistoryEvents",
    "lastBuildSubmittedDateTime",
    "localeName",
    "intentName",
    "slotName",
    "slotTypeName",
    "botName",
    "nluIntentConfidenceThreshold",
)


@dataclass
class LocaleArchive:
    """One locale as the archive holds it: shapes in botocore member names, references by name."""

    locale_id: str
    settings: dict[str, Any]
    slot_types: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> definition
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> definition
    slots: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # intent -> slot -> definition


@dataclass
class BotArchive:
    resource_type: str  # "Bot" or "BotLocale"
    bot: dict[str, Any]
    locales: list[LocaleArchive]


def _definition(shape: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in shape.items() if name not in _OMITTED}


def locale_archive(
    locale: dict[str, Any], slot_types: list[dict[str, Any]], intents: list[dict[str, Any]]
) -> LocaleArchive:
    """From Describe outputs (intents carrying their slots under "slots"): slot type ids become names,
    slotPriorities name their slots."""
    type_names = {slot_type["slotTypeId"]: slot_type["slotTypeName"] for slot_type in slot_types}
    archive = LocaleArchive(
        locale["localeId"],
        {**_definition(locale), "nluConfidenceThreshold": locale["nluIntentConfidenceThreshold"]},
    )
    for slot_type in slot_types:
        archive.slot_types[slot_type["slotTypeName"]] = _definition(slot_type)
    for intent in intents:
        slot_names = {slot["slotId"]: slot["slotName"] for slot in intent["slots"]}
        priorities = [
            {"priority": entry["priority"], "slotName": slot_names[entry["slotId"]]}
            for entry in intent.get("slotPriorities", [])
            if entry["slotId"] in slot_names
        ]
        archive.intents[intent["intentName"]] = {**_definition(intent), "slotPriorities": priorities}
        archive.slots[intent["intentName"]] = {
            slot["slotName"]: {
                **_definition(slot),
                "slotTypeName": type_names.get(slot.get("slotTypeId", ""), slot.get("slotTypeId")),
            }
            for slot in intent["slots"]
        }
    return archive


def write_archive(archive: BotArchive) -> bytes:
    root = archive.bot["botName"]
    files: dict[str, Any] = {
        "Manifest.json": {
            "metadata": {
                "schemaVersion": SCHEMA_VERSION,
                "fileFormat": "LexJson",
                "resourceType": archive.resource_type,
            }
        }
    }
    if archive.resource_type == "Bot":
        files["Bot.json"] = {**_definition(archive.bot), "name": archive.bot["botName"], "version": "DRAFT"}
    for locale in archive.locales:
        folder = f"BotLocales/{locale.locale_id}"
        files[f"{folder}/BotLocale.json"] = {**locale.settings, "identifier": locale.locale_id}
        for name, slot_type in locale.slot_types.items():
            files[f"{folder}/SlotTypes/{name}/SlotType.json"] = {**slot_type, "name": name}
        for name, intent in locale.intents.items():
            files[f"{folder}/Intents/{name}/Intent.json"] = {**intent, "name": name}
            for slot_name, slot in locale.slots.get(name, {}).items():
                files[f"{folder}/Intents/{name}/Slots/{slot_name}/Slot.json"] = {**slot, "name": slot_name}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path, content in files.items():
            zipped.writestr(f"{root}/{path}", json.dumps(content, indent=2, default=str))
    return buffer.getvalue()


def read_archive(data: bytes) -> BotArchive:
    """Parses an archive; ValueError says what is wrong with one that is not Lex JSON."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            files = {
                _inner_path(name): json.loads(zipped.read(name))
                for name in zipped.namelist()
                if name.endswith(".json")
            }
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"The file is not a zip archive of Lex JSON files: {error}") from None
    manifest = files.get("Manifest.json")
    if manifest is None:
        raise ValueError("The archive has no Manifest.json.")
    metadata = manifest.get("metadata", {})
    if metadata.get("fileFormat") != "LexJson":
        raise ValueError(
            f"The archive's fileFormat is {metadata.get('fileFormat')!r}; Nimbus imports LexJson."
        )
    locales: dict[str, LocaleArchive] = {}
    for path, content in sorted(files.items()):
        parts = path.split("/")
        if parts[0] != "BotLocales" or len(parts) < 3:
            continue
        locale = locales.get(parts[1])
        if locale is None:
            locale = locales[parts[1]] = LocaleArchive(parts[1], {})
        definition = {name: value for name, value in content.items() if name not in ("name", "identifier")}
        if parts[2:] == ["BotLocale.json"]:
            locale.settings = definition
        elif parts[2] == "SlotTypes" and parts[-1] == "SlotType.json":
            locale.slot_types[content["name"]] = definition
        elif parts[2] == "Intents" and parts[-1] == "Intent.json":
            locale.intents[content["name"]] = definition
        elif parts[2] == "Intents" and parts[-1] == "Slot.json":
            locale.slots.setdefault(parts[3], {})[content["name"]] = definition
    bot = files.get("Bot.json", {})
    return BotArchive(metadata.get("resourceType", "Bot"), bot, list(locales.values()))


def _inner_path(name: str) -> str:
    """A member's path below the archive's top folder."""
    return name.split("/", 1)[1] if "/" in name else name

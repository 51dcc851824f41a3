"""Shapes to and from XML (the rest-xml protocol's bodies and the query protocol's responses)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

from botocore.model import Shape

from nimbus.protocol.values import ISO8601, format_scalar, parse_scalar


class XmlShapeError(ValueError):
    """XML that is not well formed or does not fit its shape."""


def parse_xml(body: bytes) -> ElementTree.Element:
    # Entity declarations are refused outright: no entity expansion bombs, no external entities.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise XmlShapeError("DTDs and entity declarations are not allowed")
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise XmlShapeError(f"not well-formed XML: {error}") from None


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _member_xml_name(name: str, member: Shape) -> str:
    if member.type_name == "list" and member.serialization.get("flattened"):
        return member.member.serialization.get("name", member.serialization.get("name", name))
    return member.serialization.get("name", name)


def from_xml(shape: Shape, element: ElementTree.Element) -> Any:
    """Reads ``element`` as a value of ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        return _structure_from_xml(shape, element)
    if kind == "list":
        name = shape.member.serialization.get("name", "member")
        return [from_xml(shape.member, child) for child in element if _local_name(child.tag) == name]
    if kind == "map":
        return _map_entries_from_xml(shape, [child for child in element if _local_name(child.tag) == "entry"])
    text = element.text or ""
    try:
        return parse_scalar(shape, text if kind == "string" else text.strip(), ISO8601)
    except ValueError as error:
        raise XmlShapeError(f"{_local_name(element.tag)}: {error}") from None


def _structure_from_xml(shape: Shape, element: ElementTree.Element) -> dict[str, Any]:
    children: dict[str, list[ElementTree.Element]] = {}
    for child in element:
        children.setdefault(_local_name(child.tag), []).append(child)
    attributes = {_local_name(key): value for key, value in element.attrib.items()}
    result: dict[str, Any] = {}
    for name, member in shape.members.items():
        xml_name = _member_xml_name(name, member)
        if member.serialization.get("xmlAttribute"):
            if xml_name.split(":")[-1] in attributes:
                result[name] = parse_scalar(member, attributes[xml_name.split(":")[-1]], ISO8601)
            continue
        nodes = children.get(xml_name)
        if not nodes:
            continue
        if member.type_name == "list" and member.serialization.get("flattened"):
            result[name] = [from_xml(member.member, node) for node in nodes]
        elif member.type_name == "map" and member.serialization.get("flattened"):
            result[name] = _map_entries_from_xml(member, nodes)
        else:
            result[name] = from_xml(member, nodes[0])
    return result


def _map_entries_from_xml(shape: Shape, entries: list[ElementTree.Element]) -> dict[str, Any]:
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    result: dict[str, Any] = {}
    for entry in entries:
        parts = {_local_name(child.tag): child for child in entry}
        if key_name in parts and value_name in parts:
            result[parts[key_name].text or ""] = from_xml(shape.value, parts[value_name])
    return result


def to_xml(shape: Shape, value: Any, name: str, namespace: str | None = None) -> str:
    """Renders ``value`` as the element ``name``; ``namespace`` is set on this element only."""
    out: list[str] = []
    _write(shape, value, name, out, f" xmlns={quoteattr(namespace)}" if namespace else "")
    return "".join(out)


def _write(shape: Shape, value: Any, name: str, out: list[str], attrs: str = "") -> None:
    kind = shape.type_name
    if kind == "structure":
        _write_structure(shape, value, name, out, attrs)
    elif kind == "list":
        member_name = shape.member.serialization.get("name", "member")
        out.append(f"<{name}{attrs}>")
        for item in value:
            _write(shape.member, item, member_name, out)
        out.append(f"</{name}>")
    elif kind == "map":
        out.append(f"<{name}{attrs}>")
        _write_map_entries(shape, value, "entry", out)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}{attrs}>{escape(format_scalar(shape, value, ISO8601))}</{name}>")


def _write_structure(shape: Shape, value: dict[str, Any], name: str, out: list[str], attrs: str) -> None:
    members = shape.members
    namespace = shape.serialization.get("xmlNamespace")
    if namespace and "xmlns" not in attrs:
        prefix = namespace.get("prefix")
        attrs += f" xmlns{':' + prefix if prefix else ''}={quoteattr(namespace['uri'])}"
    for member_name, member in members.items():
        if member.serialization.get("xmlAttribute") and value.get(member_name) is not None:
            text = format_scalar(member, value[member_name], ISO8601)
            attrs += f" {member.serialization['name']}={quoteattr(text)}"
    out.append(f"<{name}{attrs}>")
    for member_name, member in members.items():
        item = value.get(member_name)
        if item is None or member.serialization.get("xmlAttribute") or member.serialization.get("location"):
            continue
        xml_name = member.serialization.get("name", member_name)
        if member.type_name == "list" and member.serialization.get("flattened"):
            item_name = member.member.serialization.get("name", xml_name)
            for element in item:
                _write(member.member, element, item_name, out)
        elif member.type_name == "map" and member.serialization.get("flattened"):
            _write_map_entries(member, item, xml_name, out)
        else:
            _write(member, item, xml_name, out)
    out.append(f"</{name}>")


def _write_map_entries(shape: Shape, value: dict[str, Any], entry_name: str, out: list[str]) -> None:
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    for key, item in value.items():
        out.append(f"<{entry_name}><{key_name}>{escape(str(key))}</{key_name}>")
        _write(shape.value, item, value_name, out)
        out.append(f"</{entry_name}>")

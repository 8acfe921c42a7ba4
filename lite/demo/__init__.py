"""What ``lite detect`` needs to run with no image and no model: synthetic scenes and lite's demo detector.

* `lite.demo.scenes` — procedurally generated shape scenes (`make_scene`) with
  their ground truth, and COCO-style datasets of them; numpy and OpenCV only. ``lite bench`` draws its
  default image with it too.
* ``lite-demo-shapes.onnx`` (in this package, with its ``.json`` record): the bundled 6-class demo model,
  found and checked by `lite.hub.default_model` (also ``lite.demo.model_path()``).

Training the demo model is not inference and is not part of the package: the model definition and the
training script are in ``examples/demo_training/`` of the repository (they need torch).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_MODEL", "model_path"]

#: The demo model's hub name and file stem.
DEMO_MODEL = "lite-demo-shapes"


def model_path() -> Path:
    """Path of the bundled demo detector, checked against its record (see `lite.hub.default_model`)."""
    from lite.hub import default_model

    return default_model()

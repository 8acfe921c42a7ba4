"""What ``lite detect`` needs to run with no image and no model: synthetic scenes and lite's demo detector.

* `lite.demo.scenes` — procedurally generated shape scenes (`make_scene`) with
  their ground truth, and COCO-style datasets of them; numpy and OpenCV only. ``lite bench`` draws its
  default image with it too.
* ``lite-demo-shapes.onnx`` (in this package, with its ``.json`` record): the bundled 6-class demo model,
  found and checked by `lite.hub.default_model` (also ``lite.demo.model_path()``).
* The task demos (`TASK_MODELS`, `task_model_path`): ``lite-demo-shapes-seg`` (instance segmentation, YOLOv8-seg
  layout), ``lite-demo-diamonds-pose`` (the 4 corners of diamonds, YOLOv8-pose layout) and
  ``lite-demo-shapes-cls`` (classification, YOLOv8-cls layout), each with its ``.json`` record.

Training the demo model is not inference and is not part of the package: the model definition and the
training script are in ``examples/demo_training/`` of the repository (they need torch).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO_MODEL", "TASK_MODELS", "model_path", "task_model_path"]

#: The demo model's hub name and file stem.
DEMO_MODEL = "lite-demo-shapes"

#: The task demo models' file stems, by task (ultralytics' task names).
TASK_MODELS = {"segment": "lite-demo-shapes-seg", "pose": "lite-demo-diamonds-pose", "classify": "lite-demo-shapes-cls"}


def model_path() -> Path:
    """Path of the bundled demo detector, checked against its record (see `lite.hub.default_model`)."""
    from lite.hub import default_model

    return default_model()


def task_model_path(task: str) -> Path:
    """Path of the bundled demo model of ``task`` (``"segment"``, ``"pose"`` or ``"classify"``), checked.

    Looks in the source checkout's ``hub/`` folder, then in this package, and checks the file against the sha256
    of the ``.json`` record beside it.

    Raises:
        InputError: An unknown task.
        HubError: The model or its record is missing.
        ChecksumError: The file does not match its record.
    """
    import json

    from lite.core.errors import ChecksumError, HubError, InputError
    from lite.core.files import sha256_file

    if task not in TASK_MODELS:
        raise InputError(f"task: expected one of {sorted(TASK_MODELS)}, got {task!r}")
    stem = TASK_MODELS[task]
    here = Path(__file__).resolve().parent
    candidates = [here.parents[1] / "hub" / f"{stem}.onnx", here / f"{stem}.onnx"]
    for path in candidates:
        if path.is_file():
            record = path.with_suffix(".json")
            if not record.is_file():
                raise HubError(f"{path}: its record {record.name} is missing; reinstall lite")
            expected = json.loads(record.read_text(encoding="utf-8"))["sha256"]
            got = sha256_file(path)
            if got != expected:
                raise ChecksumError(f"{path}: sha256 mismatch: expected {expected} ({record.name}), got {got}")
            return path
    raise HubError(
        f"the {task} demo model {stem}.onnx is not installed: looked for {' or '.join(map(str, candidates))}. "
        f"Train it with examples/demo_training/train_demo_tasks.py --task {task} --export hub/{stem}.onnx"
    )

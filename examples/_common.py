"""What the example scripts share: the test assets they default to, their command line, their printout.

Not an example itself. The scripts import it as ``_common``: Python puts a script's own folder first
on ``sys.path``, so ``python examples/detect_ort.py`` finds it from the repo root, from
``examples/`` or from anywhere else.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import cv2

from lite.core.errors import LiteError
from lite.data.outputs import plan_outputs, write_image

REPO = Path(__file__).resolve().parents[1]
#: The shared test assets: ``$LITE_SHARED``, else ``../shared`` next to the repo.
SHARED = Path(os.environ.get("LITE_SHARED", REPO.parent / "shared"))
BUS = SHARED / "images" / "bus.jpg"
#: YOLOv6Lite-S exported with decoding in the graph, and without (per-level heads, for NCNN and MNN).
DECODED_ONNX = SHARED / "models/yolov6lite/onnx/yolov6lite_s_320_decoded.onnx"
RAW_ONNX = SHARED / "models/yolov6lite/onnx/yolov6lite_s_320_raw.onnx"


def detect_parser(doc: str, model: str | Path | None, model_help: str | None = None) -> argparse.ArgumentParser:
    """The arguments every detect example takes: an image, ``--model``, ``--conf`` and ``--save``.

    Args:
        doc: The script's docstring (its first line describes the script).
        model: Default of ``--model``.
        model_help: Help of ``--model``.
    """
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("image", nargs="?", default=str(BUS))
    ap.add_argument("--model", default=None if model is None else str(model), help=model_help)
    ap.add_argument("--conf", type=float, default=0.25, help="score threshold")
    ap.add_argument("--save", type=Path, default=None, help="write the annotated image here")
    return ap


def detect_and_print(det: Any, image: str, save: Path | None, *, on: str | None = None, note: str = "") -> int:
    """Detect objects in one image file, print what was found and optionally save the drawing.

    Args:
        det: A `lite.cv.Detector`.
        image: The image file.
        save: Write the annotated image here (None: do not).
        on: The device, printed after the backend name.
        note: More about the backend, printed after the input size (such as ``", precision low"``).

    Returns:
        The exit status (0).
    """
    if save is not None:  # the file named by --save may be replaced, the input never (checked before the work)
        plan_outputs([save], inputs=[Path(image)], exist_ok=True)
    img = cv2.imread(image)
    if img is None:
        raise SystemExit(f"cannot read image {image}")
    dets = det.detect(img)

    h, w = det.input_hw
    print(f"model: {det.backend.model_path}")
    print(f"backend: {det.backend.name}{f' on {on}' if on else ''} (input {h}x{w}{note})")
    print(f"layout: {det.spec.describe()}")
    print(f"image: {Path(image).name} ({img.shape[1]}x{img.shape[0]})")
    counts = ", ".join(f"{name} {n}" for name, n in dets.summary().items())
    print(f"{len(dets)} detections: {counts}")
    for d in dets:
        x1, y1, x2, y2 = d.xyxy
        print(f"  {d.name:<14} {d.score:.2f}  [{x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}]")
    if save is not None:
        write_image(save, dets.draw(img))  # atomically: a temporary file, then renamed
        print(f"saved {save}")
    return 0


def run(main: Callable[[], int]) -> NoReturn:
    """Exit with ``main()``'s status; a lite error (a missing engine, file or device) ends it in one line."""
    try:
        raise SystemExit(main())
    except LiteError as e:  # one line, no traceback
        raise SystemExit(f"{Path(sys.argv[0]).name}: error: {e}") from None

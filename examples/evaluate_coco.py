"""COCO bbox mAP of a model on an annotated image folder, with YOLOv6's evaluation settings.

Usage::

    python examples/evaluate_coco.py                                   # YOLOv6Lite-S on the 128-image subset
    python examples/evaluate_coco.py --model yolov6-lite-s.param --input-size 320
    python examples/evaluate_coco.py --images val2017/ --ann instances_val2017.json --limit 500

Defaults come from the shared test assets (``$LITE_SHARED`` or ``../shared`` next to the repo).
Needs pycocotools (``pip install 'lite-detect[eval]'``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import DECODED_ONNX, SHARED, run

from lite.tools.eval import coco

SUBSET = SHARED / "coco" / "val2017_128"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DECODED_ONNX))
    ap.add_argument("--backend", default=None, help="backend name (default: from the model's suffix)")
    ap.add_argument("--images", type=Path, default=SUBSET / "images", help="folder of the annotated images")
    ap.add_argument("--ann", type=Path, default=SUBSET / "instances.json", help="COCO instances JSON")
    ap.add_argument("--input-size", type=int, default=None, help="network input for dynamic-shape models")
    ap.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    ap.add_argument("--threads", type=int, default=None, help="engine threads")
    ap.add_argument("--predictions", type=Path, default=None, help="write the COCO results JSON here")
    args = ap.parse_args()

    r = coco(
        args.model,
        args.images,
        args.ann,
        backend=args.backend,
        input_size=args.input_size,
        limit=args.limit,
        threads=args.threads,
        out_json=args.predictions,
        progress=False,
    )
    print(f"model: {args.model}")
    print(f"images: {r.num_images} from {args.images}, {r.num_detections} detections, classes mapped by {r.mapping}")
    print(f"AP {r.AP:.4f}  AP50 {r.AP50:.4f}  AP75 {r.AP75:.4f}  APs {r.APs:.4f}  APm {r.APm:.4f}  APl {r.APl:.4f}")
    print(f"detection loop: {r.seconds:.1f} s ({1000 * r.seconds / max(r.num_images, 1):.1f} ms/image)")
    return 0


if __name__ == "__main__":
    run(main)

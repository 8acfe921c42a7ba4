"""``lite eval``: COCO bbox mAP of a model on an annotated image folder (pycocotools).

Defaults follow YOLOv6's evaluator (conf 0.03, IoU 0.65, 300 detections per image, multi-label)::

    lite eval --model yolov6lite_s_320_decoded.onnx --images val2017/images --ann instances.json
    lite eval --model yolov6-lite-s.param --backend ncnn --input-size 320 --images ... --ann ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand."""
    p = subparsers.add_parser(
        "eval",
        help="COCO mAP of a model on an annotated image folder",
        description=(
            "Evaluate a detector with pycocotools (COCO bbox mAP) on a folder of images and a COCO instances "
            "JSON. Model classes are mapped to COCO's category ids for COCO annotations, else to the "
            "dataset's categories by name or order."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("-m", "--model", required=True, help="model file or hub name")
    p.add_argument("--images", required=True, type=Path, help="folder of the annotated images")
    p.add_argument("--ann", required=True, type=Path, help="COCO instances JSON")
    p.add_argument("--backend", default=None, help="backend name (default: from the model's suffix)")
    p.add_argument("--device", default="cpu", help="device, e.g. cpu, cuda:0")
    p.add_argument("--threads", type=int, default=None, help="engine threads (default: the engine's)")
    p.add_argument("--conf", type=float, default=0.03, help="score threshold")
    p.add_argument("--iou", type=float, default=0.65, help="NMS IoU threshold")
    p.add_argument("--max-det", type=int, default=300, help="detections kept per image")
    p.add_argument("--single-label", action="store_true", help="only the best class per anchor (default: multi-label)")
    p.add_argument("--input-size", type=int, nargs="+", default=None, metavar="N",
                   help="network input N or H W (dynamic-shape models)")  # fmt: skip
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    p.add_argument("--predictions", type=Path, default=None, metavar="FILE", help="write the predictions JSON here")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the metrics JSON here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``lite eval``; returns the exit code."""
    from lite.errors import InputError
    from lite.eval import coco

    size = args.input_size
    if size is not None and len(size) not in (1, 2):
        raise InputError(f"--input-size: expected N or H W, got {' '.join(map(str, size))}")
    r = coco(
        args.model,
        args.images,
        args.ann,
        backend=args.backend,
        device=args.device,
        threads=args.threads,
        conf=args.conf,
        iou=args.iou,
        max_det=args.max_det,
        multi_label=not args.single_label,
        input_size=None if size is None else (size[0] if len(size) == 1 else tuple(size)),
        out_json=args.predictions,
        progress=not args.no_progress,
        limit=args.limit,
    )
    s = r.settings
    print(
        f"{Path(s['model']).name} [{s['backend']}] input {s['input_size'][0]}x{s['input_size'][1]}, "
        f"conf {s['conf']}, iou {s['iou']}, max_det {s['max_det']}, "
        f"{'multi' if s['multi_label'] else 'single'}-label, classes mapped by {r.mapping}"
    )
    print(r.summary)
    print(f"{r.num_images} images in {r.seconds:.1f} s ({1e3 * r.seconds / max(r.num_images, 1):.1f} ms/image)")
    print(str(r))
    if r.predictions is not None:
        print(f"predictions: {r.predictions}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(r.to_dict(), indent=1), encoding="utf-8")
        print(f"metrics: {args.json}")
    return 0

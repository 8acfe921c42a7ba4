"""``lite eval``: COCO mAP of a model on an annotated image folder (pycocotools), or of a results file.

Defaults follow YOLOv6's evaluator (conf 0.03, IoU 0.65, 300 detections per image, multi-label)::

    lite eval --model yolov6lite_s_320_decoded.onnx --images val2017/images --ann instances.json
    lite eval --model yolov6-lite-s.param --backend ncnn --input-size 320 --images ... --ann ...

Tracking (MOTChallenge sequence folder: img1/ + gt/gt.txt), MOTA / IDF1 / HOTA with TrackEval::

    lite eval --mot crossing                          # the demo model + ByteTrack
    lite eval --mot MOT17-02 --model yolov6lite_s_320_decoded.onnx --tracker sort
    lite eval --mot MOT17-02 --tracks my_results.txt  # score a results file

A results file, no model::

    lite eval --results predictions.json --ann instances.json --iou-type segm

``--iou-type segm`` scores instance masks (results with COCO RLE ``segmentation``), ``--iou-type keypoints``
scores keypoints; a model that gives boxes only is refused for them with a message naming the task to use.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lite.cli._common import (
    add_command,
    add_detector_arguments,
    add_no_progress_argument,
    detector_options,
    model_files,
)
from lite.cli._ray import add_ray_arguments, ray_requested


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand."""
    p = add_command(
        subparsers,
        "eval",
        run,
        help="COCO mAP of a model on an annotated image folder",
        description=(
            "Evaluate a detector with pycocotools (COCO bbox mAP) on a folder of images and a COCO instances "
            "JSON. Model classes are mapped to COCO's category ids for COCO annotations, else to the "
            "dataset's categories by name or order."
        ),
    )
    p.add_argument("-m", "--model", default=None, help="model file or hub name (--mot: default the demo model)")
    p.add_argument("--images", type=Path, default=None, help="folder of the annotated images (with --model)")
    p.add_argument("--ann", type=Path, default=None, help="COCO instances JSON")
    p.add_argument(
        "--iou-type",
        choices=("bbox", "segm", "keypoints"),
        default="bbox",
        help="what to score: boxes (default), instance masks or keypoints",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=None,
        metavar="FILE",
        help="score this COCO results JSON (e.g. from lite detect --json) instead of running a model",
    )
    g = p.add_argument_group("tracking (MOTChallenge format)")
    g.add_argument("--mot", type=Path, default=None, metavar="SEQ",
                   help="a sequence folder (img1/, gt/gt.txt): MOTA, IDF1, HOTA of --model + --tracker")  # fmt: skip
    g.add_argument("--tracker", default="bytetrack", choices=("bytetrack", "sort", "ocsort"), help="tracker")
    g.add_argument("--tracks", type=Path, default=None, metavar="FILE",
                   help="with --mot: score this MOTChallenge results file instead of running a model")  # fmt: skip
    add_detector_arguments(p, conf=0.03, iou=0.65, max_det=300)
    p.add_argument("--single-label", action="store_true", help="only the best class per anchor (default: multi-label)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    p.add_argument("--predictions", type=Path, default=None, metavar="FILE", help="write the predictions JSON here")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the metrics JSON here")
    add_no_progress_argument(p)
    add_ray_arguments(p, outputs=False)


def run(args: argparse.Namespace) -> int:
    """Run ``lite eval``; returns the exit code."""
    from lite.core.errors import InputError
    from lite.data.outputs import plan_outputs
    from lite.tools.eval import coco

    if args.mot is not None:
        return _run_mot(args)
    if args.ann is None:
        raise InputError("lite eval: expected --ann (COCO instances JSON) with --model/--images or --results, "
                         "or --mot SEQ (tracking)")  # fmt: skip
    if (args.model is None) == (args.results is None):
        raise InputError("lite eval: expected either --model (with --images) or --results, not both or neither")
    if args.results is not None:
        return _score_file(args)
    if args.images is None:
        raise InputError("lite eval --model: expected --images, the folder of the annotated images")
    outputs = [p for p in (args.predictions, args.json) if p is not None]
    # before the evaluation: never onto the annotations, the model or its files (replacing an earlier output is fine)
    plan_outputs(outputs, inputs=[args.ann, *model_files(args.model)], exist_ok=True)
    extra = {}
    if ray_requested(args):  # predictions from a Ray cluster, scored here
        from lite.cli._ray import coco_from_args

        if args.iou_type != "bbox":
            raise InputError(f"lite eval --ray scores boxes only; got --iou-type {args.iou_type} (run without --ray)")
        coco = coco_from_args(args)
    else:
        extra["iou_type"] = args.iou_type
    r = coco(
        args.model,
        args.images,
        args.ann,
        **detector_options(args),
        multi_label=not args.single_label,
        out_json=args.predictions,
        progress=not args.no_progress,
        limit=args.limit,
        **extra,
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
        from lite.core.files import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(r.to_dict(), indent=1).encode("utf-8"))
        print(f"metrics: {args.json}")
    return 0


def _run_mot(args: argparse.Namespace) -> int:
    """``lite eval --mot SEQ``: track the sequence (or read --tracks) and print MOTA, IDF1, HOTA."""
    from lite.tools.mot import evaluate, track_sequence

    if args.tracks is not None:
        r = evaluate(args.mot / "gt" / "gt.txt", args.tracks)
        what = str(args.tracks)
    else:
        from lite.cli.detect import _open_detector

        det = _open_detector(args)
        try:
            r = track_sequence(det, args.mot, tracker=args.tracker, results=args.predictions)
        finally:
            det.close()
        what = f"{Path(det.backend.model_path).name} + {args.tracker}"
    print(f"{args.mot.name}: {what}")
    print(str(r))
    if args.json is not None:
        from lite.core.files import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(r.to_dict(), indent=1).encode("utf-8"))
        print(f"metrics: {args.json}")
    return 0


def _score_file(args: argparse.Namespace) -> int:
    """``lite eval --results FILE --ann ANN``: pycocotools on a results JSON, no model."""
    from lite.core.errors import InputError
    from lite.tools.eval import evaluate, stat_names

    if not args.results.is_file():
        raise InputError(f"--results: file not found: {args.results} (expected a COCO results JSON list)")
    try:
        results = json.loads(args.results.read_text(encoding="utf-8"))
    except ValueError as e:
        raise InputError(f"--results: {args.results} is not valid JSON ({e})") from e
    if not isinstance(results, list):
        raise InputError(f"--results: expected a JSON list of COCO result records, got {type(results).__name__}")
    stats, summary = evaluate(args.ann, results, iou_type=args.iou_type)
    metrics = {"iou_type": args.iou_type, **dict(zip(stat_names(args.iou_type), stats, strict=True))}
    print(f"{args.results.name}: {len(results)} results, iou type {args.iou_type}")
    print(summary)
    print("  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "iou_type"))
    if args.json is not None:
        from lite.core.files import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(metrics, indent=1).encode("utf-8"))
        print(f"metrics: {args.json}")
    return 0

"""``lite eval``: COCO mAP of a model on an annotated image folder (pycocotools), or of a results file.

Defaults follow YOLOv6's evaluator (conf 0.03, IoU 0.65, 300 detections per image, multi-label)::

    lite eval --model yolov6lite_s_320_decoded.onnx --images val2017/images --ann instances.json
    lite eval --model yolov6-lite-s.param --backend ncnn --input-size 320 --images ... --ann ...

Tracking (MOTChallenge sequence folder: img1/ + gt/gt.txt), MOTA / IDF1 / HOTA with TrackEval::

    lite eval --mot crossing                          # the demo model + ByteTrack
    lite eval --mot MOT17-02 --model yolov6lite_s_320_decoded.onnx --tracker sort
    lite eval --mot MOT17-02 --tracks my_results.txt  # score a results file

An image classifier: top-1 / top-5 accuracy on a folder per class (``images/<class>/<image>``) or a labels
file of ``<image> <class>`` lines::

    lite eval --model yolov8n-cls.onnx --images val/                       # val/<class>/*.jpg
    lite eval --model mobilenetv2-12-int8.onnx --images val/ --classes-from val.txt

A results file, no model::

    lite eval --results predictions.json --ann instances.json --iou-type segm

``--iou-type segm`` scores instance masks (results with COCO RLE ``segmentation``), ``--iou-type keypoints``
scores keypoints; a model that gives boxes only is refused for them with a message naming the task to use.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from lite.cli._common import (
    add_command,
    add_detector_arguments,
    add_no_progress_argument,
    detection_options,
    detector_options,
    engine_options,
    model_files,
)
from lite.cli._ray import add_ray_arguments, ray_requested


def register(subparsers: Any) -> None:
    """Add the ``eval`` subcommand."""
    p = add_command(
        subparsers,
        "eval",
        run,
        help="COCO mAP of a detector (boxes, masks, keypoints) or top-1/top-5 of a classifier",
        description=(
            "Evaluate a detector with pycocotools (COCO bbox mAP; --iou-type segm / keypoints for segmentation "
            "and pose models) on a folder of images and a COCO instances JSON. Model classes are mapped to "
            "COCO's category ids for COCO annotations, else to the dataset's categories by name or order. "
            "An image classifier is scored by top-1 / top-5 accuracy on --images: a folder per class "
            "(--classes-from folders, the default) or a labels file (--classes-from FILE), no --ann."
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
    p.add_argument("--classes-from", default="folders", metavar="folders|FILE",
                   help="classifiers: the true class of each image: 'folders' (--images/<class>/<image>, classes "
                        "matched to the model's names, else sorted folders = class 0, 1, ...) or a file of "
                        "'<image> <class id or name>' lines (paths relative to --images)")  # fmt: skip
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

    if args.mot is not None:
        return _run_mot(args)
    if (args.model is None) == (args.results is None):
        raise InputError("lite eval: expected either --model (with --images) or --results (with --ann), not both "
                         "or neither; or --mot SEQ (tracking)")  # fmt: skip
    if args.results is not None:
        if args.ann is None:
            raise InputError("lite eval --results: expected --ann, the COCO instances JSON to score against")
        return _score_file(args)
    if args.images is None:
        raise InputError("lite eval --model: expected --images, the folder of the annotated images")
    if ray_requested(args):  # predictions from a Ray cluster, scored here
        return _run_coco(args, None)
    from lite.cv import ImageModel

    model = ImageModel.from_file(args.model, **engine_options(args))  # a detector or a classifier, as it is
    try:
        if model.task == "classify":
            return _run_classifier(args, model)
        if args.ann is None:
            raise InputError(
                f"{model.backend.model_path.name} is a {model.task} model: expected --ann (COCO instances "
                "JSON of the --images); top-1 / top-5 accuracy (folder per class, --classes-from) is for classifiers"
            )
        return _run_coco(args, model)
    finally:
        model.close()


def _run_coco(args: argparse.Namespace, model: Any) -> int:
    """COCO mAP (boxes, masks or keypoints) of the opened detector ``model`` (None: ``--ray``, on a cluster)."""
    from lite.core.errors import InputError
    from lite.data.outputs import plan_outputs
    from lite.tools.eval import coco

    if args.ann is None:
        raise InputError("lite eval --model: expected --ann (COCO instances JSON of the --images)")
    outputs = [p for p in (args.predictions, args.json) if p is not None]
    # before the evaluation: never onto the annotations, the model or its files (replacing an earlier output is fine)
    plan_outputs(outputs, inputs=[args.ann, *model_files(args.model)], exist_ok=True)
    extra: dict[str, Any] = {}
    if model is None:
        from lite.cli._ray import coco_from_args

        if args.iou_type != "bbox":
            raise InputError(f"lite eval --ray scores boxes only; got --iou-type {args.iou_type} (run without --ray)")
        coco = coco_from_args(args)
        extra = detector_options(args)
    else:
        extra = {"iou_type": args.iou_type, **detection_options(args)}
    r = coco(
        args.model if model is None else model,
        args.images,
        args.ann,
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


def _run_classifier(args: argparse.Namespace, clf: Any) -> int:
    """Top-1 / top-5 accuracy of the opened classifier on ``--images`` (a folder per class, or ``--classes-from``)."""
    from lite.cli.classify import record
    from lite.core.errors import InputError
    from lite.data.outputs import plan_outputs
    from lite.tools.eval import classification_accuracy, images_from_folders, images_from_labels_file

    name = clf.backend.model_path.name
    if args.ann is not None or args.iou_type != "bbox":
        raise InputError(
            f"{name} is an image classifier: it is scored by top-1 / top-5 accuracy on --images (a "
            "folder per class, or --classes-from FILE), not with COCO --ann / --iou-type; drop them"
        )
    from_file = args.classes_from != "folders"
    outputs = [p for p in (args.predictions, args.json) if p is not None]
    inputs = [*model_files(args.model), *([Path(args.classes_from)] if from_file else [])]
    plan_outputs(outputs, inputs=inputs, exist_ok=True)  # replacing an earlier output is fine
    names = clf.names or None  # class folders / labels are mapped by name when the model has names
    if from_file:
        samples = images_from_labels_file(args.classes_from, args.images, names)
    else:
        samples = images_from_folders(args.images, names)
    if args.limit is not None:
        samples = samples[: max(int(args.limit), 0)]
    k = min(5, clf.num_classes)
    results = []

    def classify(img: Any) -> Any:
        c = clf.classify(img, top_k=k)
        results.append(c)
        return c

    t0 = time.perf_counter()
    r = classification_accuracy(classify, samples, k=k, progress=not args.no_progress)
    seconds = time.perf_counter() - t0
    h, w = clf.input_hw
    how = f"labels file {args.classes_from}" if from_file else "a folder per class" + (" (by name)" if names else "")
    print(f"{name} [{clf.backend.name}] input {h}x{w}, family {clf.family}, {clf.num_classes} classes, "
          f"labels from {how}")  # fmt: skip
    print(f"{r.num_images} images in {seconds:.1f} s ({1e3 * seconds / max(r.num_images, 1):.1f} ms/image)")
    print(str(r) if k == 5 else str(r).replace("top-5", f"top-{k}"))
    if args.predictions is not None:
        from lite.data.outputs import write_json

        preds = [record(str(p), c) | {"label": int(y)} for (p, y), c in zip(samples, results, strict=True)]
        print(f"predictions: {write_json(args.predictions, preds)}")
    if args.json is not None:
        from lite.data.outputs import write_json

        settings = {"model": str(clf.backend.model_path), "family": clf.family, "backend": clf.backend.name,
                    "input_size": [h, w], "labels_from": str(args.classes_from), "k": k}  # fmt: skip
        write_json(args.json, {"task": "classify", **r.to_dict(), "seconds": seconds, "settings": settings})
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

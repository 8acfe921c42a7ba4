"""COCO-style evaluation: bbox, mask and keypoint mAP with pycocotools, and classifier top-1 / top-5 accuracy.

The settings follow YOLOv6's own evaluator (``tools/eval.py``): score threshold 0.03, NMS IoU
0.65, at most 300 detections per image, multi-label candidates (every class above the
threshold for an anchor), score = objectness x class score, boxes mapped back to the original
image and clipped to it. Model class ids are mapped to the dataset's category ids:

* COCO annotations (the 80 category ids 1..90 of COCO) and an 80-class model: the standard
  80 -> 91 table (`lite.data.coco.COCO80_TO_91`);
* otherwise by class name (case, spaces and the COCO spelling variants such as
  ``motorbike``/``motorcycle`` ignored), else by order when the counts match (category ids
  sorted ascending = model classes 0..nc-1, e.g. the synthetic shapes of
  `lite.demo.scenes.write_dataset`).

pycocotools is imported only inside the functions that need it (``pip install 'lite-detect[eval]'``).

Beyond boxes: ``iou_type="segm"`` scores instance masks (results carry COCO RLE ``segmentation``, e.g. from
`Detections.masks_rle`) and ``iou_type="keypoints"`` scores keypoints (results carry ``keypoints``
``[x1, y1, s1, ...]``; OKS sigmas are COCO's for 17 keypoints, else ``1 / K`` each, as ultralytics does).
`topk_accuracy` and `classification_accuracy` give a classifier's top-1 / top-5 on images labelled by a
folder per class (`images_from_folders`) or a labels file (`images_from_labels_file`).

Example:
    ```python
    from lite.tools.eval import coco

    r = coco("yolov6lite_s_320_decoded.onnx", "val2017_128/images", "val2017_128/instances.json")
    print(round(r.AP, 3))
    ```
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lite.core.errors import BackendNotInstalledError, ImageNotFoundError, InputError
from lite.core.progress import ProgressBar
from lite.data.coco import COCO80_TO_91, name_key

__all__ = [
    "EvalResult",
    "CategoryMap",
    "category_map",
    "default_category_ids",
    "coco_results",
    "write_results",
    "evaluate",
    "coco",
    "IOU_TYPES",
    "stat_names",
    "AccuracyResult",
    "topk_accuracy",
    "classification_accuracy",
    "images_from_folders",
    "images_from_labels_file",
]

#: What `evaluate` can score: boxes, instance masks, keypoints (pycocotools' ``iouType``).
IOU_TYPES = ("bbox", "segm", "keypoints")

#: Names of the 12 numbers of ``COCOeval.stats`` (bbox), in order.
STAT_NAMES: tuple[str, ...] = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
)

#: Names of the 10 numbers of ``COCOeval.stats`` for keypoints, in order.
KEYPOINT_STAT_NAMES: tuple[str, ...] = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")

#: COCO's per-keypoint OKS sigmas of its 17 person keypoints (pycocotools' default).
COCO_KPT_SIGMAS = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
                   0.087, 0.087, 0.089, 0.089)  # fmt: skip


def stat_names(iou_type: str = "bbox") -> tuple[str, ...]:
    """Names of ``COCOeval.stats`` for ``iou_type`` (12 for bbox and segm, 10 for keypoints).

    Raises:
        InputError: An unknown ``iou_type``.
    """
    return KEYPOINT_STAT_NAMES if _check_iou_type(iou_type) == "keypoints" else STAT_NAMES


def _check_iou_type(iou_type: str) -> str:
    if iou_type not in IOU_TYPES:
        raise InputError(f"iou_type: expected one of {list(IOU_TYPES)}, got {iou_type!r}")
    return iou_type



# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalResult:
    """The outcome of a COCO evaluation (boxes, masks or keypoints: ``iou_type``).

    Attributes:
        AP: mAP over IoU (or OKS) 0.50:0.95 (COCO's primary metric).
        AP50: AP at IoU 0.50.
        AP75: AP at IoU 0.75.
        APs: AP on small objects (area < 32²); -1 for keypoints (COCO scores no small people).
        APm: AP on medium objects.
        APl: AP on large objects (area > 96²).
        stats: The numbers of ``COCOeval.stats`` (see `stat_names`).
        predictions: Where the predictions JSON was written (None if it was not).
        num_images: Images evaluated.
        num_detections: Detections submitted.
        seconds: Wall time of the detection loop (not of pycocotools).
        mapping: How model classes were mapped to categories (``"coco80"``, ``"name"``, ``"order"``).
        summary: pycocotools' printed summary table.
        settings: The detection settings used (conf, iou, max_det, multi_label, input size, model, backend).
        iou_type: ``"bbox"``, ``"segm"`` or ``"keypoints"``.
    """

    AP: float
    AP50: float
    AP75: float
    APs: float
    APm: float
    APl: float
    stats: tuple[float, ...]
    predictions: Path | None = None
    num_images: int = 0
    num_detections: int = 0
    seconds: float = 0.0
    mapping: str = ""
    summary: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    iou_type: str = "bbox"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the metrics and settings."""
        return {
            "iou_type": self.iou_type,
            **{k: float(v) for k, v in zip(stat_names(self.iou_type), self.stats, strict=True)},
            "stats": [float(s) for s in self.stats],
            "predictions": str(self.predictions) if self.predictions else None,
            "num_images": self.num_images,
            "num_detections": self.num_detections,
            "seconds": round(self.seconds, 3),
            "mapping": self.mapping,
            "settings": self.settings,
        }

    def __str__(self) -> str:
        if self.iou_type == "keypoints":
            return (
                f"keypoints AP {self.AP:.4f}  AP50 {self.AP50:.4f}  AP75 {self.AP75:.4f}  APm {self.APm:.4f}  "
                f"APl {self.APl:.4f}  ({self.num_images} images, {self.num_detections} detections)"
            )
        return (
            ("segm " if self.iou_type == "segm" else "")
            + f"AP {self.AP:.4f}  AP50 {self.AP50:.4f}  AP75 {self.AP75:.4f}  "
            f"APs {self.APs:.4f}  APm {self.APm:.4f}  APl {self.APl:.4f}  "
            f"({self.num_images} images, {self.num_detections} detections)"
        )


# ----------------------------------------------------------------------------------------------
# category mapping
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CategoryMap:
    """Model class id -> dataset category id.

    Attributes:
        ids: ``ids[class_id]`` is the category id, or -1 when the class has no category
            in the dataset (its detections are dropped).
        how: ``"coco80"``, ``"name"`` or ``"order"``.
    """

    ids: tuple[int, ...]
    how: str

    def __call__(self, class_ids: np.ndarray) -> np.ndarray:
        """Category ids of an array of class ids (-1 for unmapped classes)."""
        lut = np.asarray(self.ids, dtype=np.int64)
        c = np.asarray(class_ids, dtype=np.int64)
        if c.size and (c.min() < 0 or c.max() >= len(lut)):
            raise InputError(f"class ids must be in 0..{len(lut) - 1} for this model; got {c.min()}..{c.max()}")
        return lut[c]


def _norm(name: str) -> str:
    return name_key(name)  # lite.data.coco's one list of spellings


def _is_coco_categories(categories: Sequence[Mapping[str, Any]]) -> bool:
    return len(categories) == len(COCO80_TO_91) and {int(c["id"]) for c in categories} == set(COCO80_TO_91)


def category_map(categories: Sequence[Mapping[str, Any]], names: Sequence[str]) -> CategoryMap:
    """Map a model's classes to a dataset's categories.

    Args:
        categories: The ``categories`` list of a COCO annotation file (``id`` and ``name`` each).
        names: The model's class names, by class id.

    Returns:
        The `CategoryMap`: COCO's 80 -> 91 table for COCO annotations and an 80-class
        model; else by normalised name when every dataset category or every model class finds
        its counterpart; else by order (categories sorted by id) when the counts match.

    Raises:
        InputError: No rule applies (the message lists both sides).
    """
    names = [str(n) for n in names]
    if not categories:
        raise InputError("the annotation file has no 'categories'; expected a list of {'id', 'name'} records")
    cats = sorted(categories, key=lambda c: int(c["id"]))
    if _is_coco_categories(cats) and len(names) == len(COCO80_TO_91):
        return CategoryMap(tuple(COCO80_TO_91), "coco80")
    by_name = {_norm(c.get("name", "")): int(c["id"]) for c in cats}
    model_keys = [_norm(n) for n in names]
    matched = [by_name.get(k, -1) for k in model_keys]
    hits = sum(m >= 0 for m in matched)
    if hits and (hits == len(names) or hits == len(cats)) and len(set(model_keys)) == len(model_keys):
        return CategoryMap(tuple(matched), "name")
    if len(cats) == len(names):
        return CategoryMap(tuple(int(c["id"]) for c in cats), "order")
    raise InputError(
        f"cannot map the model's {len(names)} classes {names[:8]}{'...' if len(names) > 8 else ''} to the "
        f"dataset's {len(cats)} categories {[c.get('name') for c in cats][:8]}{'...' if len(cats) > 8 else ''}: "
        "the names do not match and the counts differ; pass names= to the detector (in the dataset's order)"
    )


def default_category_ids(names: Sequence[str]) -> tuple[int, ...]:
    """Category ids for results written without a dataset (``lite detect --json``).

    COCO's 91-slot ids for a COCO-80 model (so the file can be scored against COCO
    annotations), else ``class_id + 1`` (the convention of `lite.demo.scenes.write_dataset`).
    """
    from lite.data.coco import COCO_NAMES

    if len(names) == len(COCO_NAMES) and [_norm(n) for n in names] == [_norm(n) for n in COCO_NAMES]:
        return tuple(COCO80_TO_91)
    return tuple(range(1, len(names) + 1))


# ----------------------------------------------------------------------------------------------
# results JSON
# ----------------------------------------------------------------------------------------------
def coco_results(
    image_id: int | str,
    xyxy: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    category_ids: Sequence[int] | CategoryMap,
    *,
    file_name: str | None = None,
    names: Sequence[str] | None = None,
    masks: np.ndarray | None = None,
    keypoints: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """COCO results records of one image's detections.

    Args:
        image_id: The COCO image id.
        xyxy: ``(n, 4)`` boxes ``x1, y1, x2, y2`` in original-image pixels.
        scores: ``(n,)`` scores.
        class_ids: ``(n,)`` model class ids.
        category_ids: Category id per class id (a `CategoryMap` or a sequence); classes
            mapped to a negative id are left out.
        file_name: Added to every record when given (``lite detect --json``).
        names: Class names; adds ``category_name`` to every record when given.
        masks: ``(n, H, W)`` bool instance masks; adds ``segmentation`` (COCO RLE, compressed) when given.
        keypoints: ``(n, K, 3)`` keypoints ``x, y, score``; adds ``keypoints`` ``[x1, y1, s1, ...]`` when given.

    Returns:
        ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score", ...}, ...]``; the box
        rounded to 3 decimals and the score to 5, as YOLOv6's evaluator writes them.
    """
    from lite.data import rle

    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    c = np.asarray(class_ids, dtype=np.int64).reshape(-1)
    if not len(b) == len(s) == len(c):
        raise InputError(f"expected as many boxes, scores and class ids; got {len(b)}, {len(s)}, {len(c)}")
    if masks is not None and len(masks) != len(b):
        raise InputError(f"expected one mask per box; got {len(masks)} masks for {len(b)} boxes")
    if keypoints is not None and (np.ndim(keypoints) != 3 or len(keypoints) != len(b)):
        raise InputError(f"expected (n, K, 3) keypoints for {len(b)} boxes; got shape {np.shape(keypoints)}")
    lut = category_ids if isinstance(category_ids, CategoryMap) else CategoryMap(tuple(category_ids), "given")
    cats = lut(c)
    xywh = np.round(np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1), 3).tolist()
    rounded = np.round(s, 5).tolist()
    out = []
    for i in range(len(b)):
        if cats[i] < 0:
            continue
        rec: dict[str, Any] = {"image_id": image_id}
        if file_name is not None:
            rec["file_name"] = file_name
        rec["category_id"] = int(cats[i])
        if names is not None:
            rec["category_name"] = str(names[int(c[i])])
        rec["bbox"] = xywh[i]
        rec["score"] = rounded[i]
        if masks is not None:
            rec["segmentation"] = rle.encode(masks[i])
        if keypoints is not None:
            rec["keypoints"] = np.round(np.asarray(keypoints[i], np.float64), 3).reshape(-1).tolist()
        out.append(rec)
    return out


def write_results(results: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """Write COCO results records as a JSON list (parent folders created), atomically; returns the path.

    Raises:
        OutputError: The file cannot be written (a full disk...); an earlier file under that name is kept.
    """
    from lite.data.outputs import write_json

    return write_json(path, list(results))


# ----------------------------------------------------------------------------------------------
# pycocotools
# ----------------------------------------------------------------------------------------------
def _pycocotools() -> tuple[Any, Any]:
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as e:
        raise BackendNotInstalledError(
            f"COCO evaluation needs pycocotools, which is not installed ({e}); "
            "install it with: pip install 'lite-detect[eval]'"
        ) from e
    return COCO, COCOeval


def _load_ann(ann: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(ann, Mapping):
        data = dict(ann)
    else:
        p = Path(ann)
        if not p.is_file():
            raise InputError(f"annotation file not found: {p} (expected a COCO instances JSON file)")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except ValueError as e:
            raise InputError(f"annotation file {p} is not valid JSON: {e}") from e
    missing = [k for k in ("images", "annotations", "categories") if k not in data]
    if missing:
        raise InputError(
            f"expected a COCO instances file with 'images', 'annotations' and 'categories'; missing {missing}"
        )
    return data


def evaluate(
    ann: str | Path | Mapping[str, Any],
    results: Sequence[Mapping[str, Any]] | str | Path,
    *,
    image_ids: Sequence[int] | None = None,
    iou_type: str = "bbox",
    kpt_sigmas: Sequence[float] | None = None,
) -> tuple[tuple[float, ...], str]:
    """COCO evaluation of results records against annotations, with pycocotools.

    Args:
        ann: COCO instances JSON (path or loaded dict); ``segm`` needs ``segmentation`` (polygons or RLE)
            in the annotations, ``keypoints`` needs ``keypoints`` and ``num_keypoints``.
        results: Results records (see `coco_results`) or the path of a results JSON.
        image_ids: Evaluate on these images only (default: every image of ``ann``).
        iou_type: ``"bbox"``, ``"segm"`` (records need ``segmentation``) or ``"keypoints"`` (records need
            ``keypoints``).
        kpt_sigmas: OKS sigma per keypoint (default: COCO's for 17 keypoints, else ``1 / K`` each).

    Returns:
        ``(stats, summary)``: the ``COCOeval.stats`` numbers (`stat_names`) and pycocotools' printed table.
        With no results at all every number is 0.

    Raises:
        InputError: An unknown ``iou_type``, records without the field it scores, or annotations without it.
    """
    COCO, COCOeval = _pycocotools()  # noqa: N806 - pycocotools' class names
    _check_iou_type(iou_type)
    data = _load_ann(ann)
    if isinstance(results, str | os.PathLike):
        results = json.loads(Path(results).read_text(encoding="utf-8"))
    field_of = {"bbox": None, "segm": "segmentation", "keypoints": "keypoints"}[iou_type]
    keys = ("image_id", "category_id", "bbox", "score") + ((field_of,) if field_of else ())
    records = [{k: v for k, v in r.items() if k in keys} for r in results]
    if field_of is not None:
        lacking = sum(field_of not in r for r in records)
        if lacking:
            raise InputError(
                f"iou_type={iou_type!r}: {lacking} of {len(records)} results have no '{field_of}'; expected results "
                f"of a {'segmentation' if iou_type == 'segm' else 'pose'} model"
            )
        if not any(field_of in a for a in data["annotations"]):
            raise InputError(f"iou_type={iou_type!r}: the annotations have no '{field_of}' to score against")
    if not records:
        return (0.0,) * len(stat_names(iou_type)), "no detections: every metric is 0"
    data = dict(data)
    data.setdefault("info", {})
    data.setdefault("licenses", [])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        gt = COCO()
        gt.dataset = data
        gt.createIndex()
        dt = gt.loadRes(records)
        ev = COCOeval(gt, dt, iou_type)
        if image_ids is not None:
            ev.params.imgIds = list(image_ids)
        if iou_type == "keypoints":
            ev.params.kpt_oks_sigmas = _kpt_sigmas(records, kpt_sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    summary = "\n".join(line for line in buf.getvalue().splitlines() if line.lstrip().startswith("Average"))
    return tuple(float(s) for s in ev.stats), summary


def _kpt_sigmas(records: Sequence[Mapping[str, Any]], given: Sequence[float] | None) -> np.ndarray:
    k = len(records[0]["keypoints"]) // 3
    if given is not None:
        sig = np.asarray(given, dtype=np.float64).reshape(-1)
        if sig.size != k:
            raise InputError(f"kpt_sigmas: expected {k} sigmas (one per keypoint), got {sig.size}")
        return sig
    return np.asarray(COCO_KPT_SIGMAS) if k == len(COCO_KPT_SIGMAS) else np.full(k, 1.0 / k)


# ----------------------------------------------------------------------------------------------
# the evaluation loop
# ----------------------------------------------------------------------------------------------
def coco(
    model: Any,
    images: str | Path,
    ann: str | Path | Mapping[str, Any],
    *,
    backend: str | None = None,
    conf: float = 0.03,
    iou: float = 0.65,
    max_det: int = 300,
    multi_label: bool = True,
    input_size: int | Sequence[int] | None = None,
    out_json: str | Path | None = None,
    progress: bool = True,
    limit: int | None = None,
    pre_nms_topk: int = 30000,
    family: str | None = None,
    iou_type: str = "bbox",
    **detector_kw: Any,
) -> EvalResult:
    """COCO mAP of a detector on a folder of images with COCO annotations (boxes, masks or keypoints).

    Args:
        model: A model file or hub name (opened with `lite.cv.Detector.from_file`), or a
            `lite.cv.Detector` (used as is; ``backend``, ``input_size`` and
            ``detector_kw`` are then ignored).
        images: Folder holding the images named by the annotations' ``file_name``.
        ann: COCO instances JSON (path or loaded dict).
        backend: Backend name (None: from the model's suffix).
        conf: Score threshold (YOLOv6's evaluator: 0.03).
        iou: NMS IoU threshold (0.65).
        max_det: Detections kept per image (300).
        multi_label: Every class above ``conf`` per anchor is a candidate (True, as YOLOv6).
        input_size: Network input for dynamic-shape models (e.g. 320 for the NCNN Lite models).
        out_json: Write the predictions (COCO results JSON) there.
        progress: Show a progress bar (tqdm) on stderr.
        limit: Evaluate only the first ``limit`` images of the annotation file.
        pre_nms_topk: Candidates per image that reach NMS (YOLOv6: 30000).
        family: Model family (``"yolov8"``...; None: read from the file).
        iou_type: ``"bbox"``, ``"segm"`` (the detections must carry masks) or ``"keypoints"`` (keypoints).
        **detector_kw: Passed to the detector (``device``, ``threads``, backend options...).

    Returns:
        The `EvalResult`.

    Raises:
        InputError: Bad annotations, classes that cannot be mapped to the categories, or ``iou_type`` asking
            for masks or keypoints from a model that gives none.
        ImageNotFoundError: An annotated image is missing from ``images``.
        BackendNotInstalledError: pycocotools (or the engine) is not installed.
    """
    from lite.cv.detector import Detector

    _check_iou_type(iou_type)
    data, folder, records = annotated_images(images, ann, limit)

    if isinstance(model, Detector):
        det, own = model, False
    else:
        det = Detector.from_file(model, family=family, backend=backend, input_size=input_size, **detector_kw)
        own = True
    try:
        cmap = category_map(data["categories"], det.names)
        results: list[dict[str, Any]] = []
        bar = ProgressBar(len(records), "eval", enabled=progress, dynamic_ncols=True, leave=False)
        t0 = time.perf_counter()
        # the next image is read and letterboxed while the engine runs this one (lite.data.stream)
        stream = det.detect_stream(
            [str(folder / rec["file_name"]) for rec in records],
            conf=conf,
            iou=iou,
            max_det=max_det,
            multi_label=multi_label,
            pre_nms_topk=pre_nms_topk,
        )
        try:
            for rec, d in zip(records, stream, strict=True):
                results += coco_results(rec["id"], d.xyxy, d.scores, d.class_ids, cmap, **_task_fields(d, iou_type))
                bar.update()
        finally:
            stream.close()
            bar.close()
        seconds = time.perf_counter() - t0
        settings = {
            "model": str(det.backend.model_path),
            "family": getattr(det, "family", None) or type(det).__name__,
            "backend": det.backend.name,
            "input_size": list(det.input_hw),
            "conf": conf,
            "iou": iou,
            "max_det": max_det,
            "multi_label": multi_label,
            "pre_nms_topk": pre_nms_topk,
        }
    finally:
        if own:
            det.close()
    return score_results(
        data, records, results, settings, out_json=out_json, seconds=seconds, mapping=cmap.how, iou_type=iou_type
    )


def _task_fields(d: Any, iou_type: str) -> dict[str, Any]:
    """The masks / keypoints `coco_results` needs for ``iou_type``, refused when the detections lack them."""
    if iou_type == "segm":
        if d.masks is None:
            raise InputError(
                "iou_type='segm' scores instance masks, but this model returns boxes only (a detection model); "
                "evaluate a segmentation model (task 'segment'), or use iou_type='bbox'"
            )
        return {"masks": d.masks}
    if iou_type == "keypoints":
        if d.keypoints is None:
            raise InputError(
                "iou_type='keypoints' scores keypoints, but this model returns boxes only (a detection model); "
                "evaluate a pose model (task 'pose'), or use iou_type='bbox'"
            )
        return {"keypoints": d.keypoints}
    return {}


def annotated_images(
    images: str | Path, ann: str | Path | Mapping[str, Any], limit: int | None = None
) -> tuple[dict[str, Any], Path, list[dict[str, Any]]]:
    """The annotations, the image folder and the image records to evaluate (the first ``limit``), checked.

    Shared by `coco` and the Ray runner's `lite.tools.distributed.coco_eval`; fails before any detection runs.

    Raises:
        BackendNotInstalledError: pycocotools is missing.
        InputError: ``images`` is not a folder, or the annotations list no image.
        ImageNotFoundError: Annotated images missing from the folder.
    """
    _pycocotools()  # fail before the long loop when pycocotools is missing
    data = _load_ann(ann)
    folder = Path(images)
    if not folder.is_dir():
        raise InputError(f"images: expected a folder of images, got {folder} (not a directory)")
    records = list(data["images"])
    if limit is not None:
        records = records[: max(int(limit), 0)]
    if not records:
        raise InputError("the annotation file lists no images to evaluate")
    missing = [r["file_name"] for r in records if not (folder / r["file_name"]).is_file()]
    if missing:
        raise ImageNotFoundError(
            f"{len(missing)} of {len(records)} annotated images are not in {folder} (first: {missing[0]}); "
            "pass the folder that holds the annotation file's images"
        )
    return data, folder, records


def score_results(
    data: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    results: list[dict[str, Any]],
    settings: dict[str, Any],
    *,
    out_json: str | Path | None,
    seconds: float,
    mapping: str,
    iou_type: str = "bbox",
) -> EvalResult:
    """Score COCO-style ``results`` on the annotated ``records`` (pycocotools) and build the `EvalResult`.

    Shared by `coco` and the Ray runner's `lite.tools.distributed.coco_eval`, so both report alike.
    """
    path = write_results(results, out_json) if out_json is not None else None
    stats, summary = evaluate(data, results, image_ids=[r["id"] for r in records], iou_type=iou_type)
    named = dict(zip(stat_names(iou_type), stats, strict=True))
    head = [named.get(k, -1.0) for k in STAT_NAMES[:6]]
    return EvalResult(
        *head,
        stats=stats,
        predictions=path,
        num_images=len(records),
        num_detections=len(results),
        seconds=seconds,
        mapping=mapping,
        summary=summary,
        settings=settings,
        iou_type=iou_type,
    )


# ----------------------------------------------------------------------------------------------
# classification accuracy
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccuracyResult:
    """Top-1 / top-5 accuracy of a classifier.

    Attributes:
        top1: Fraction of images whose best class is the label.
        top5: Fraction of images whose label is among the 5 best classes (or the ``k`` given).
        num_images: Images scored.
        errors: ``(image, label, predicted top-1)`` of the images the top-1 missed, in input order.
    """

    top1: float
    top5: float
    num_images: int
    errors: tuple[tuple[str, int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``errors`` as lists)."""
        return {"top1": self.top1, "top5": self.top5, "num_images": self.num_images,
                "errors": [list(e) for e in self.errors]}  # fmt: skip

    def __str__(self) -> str:
        return f"top-1 {self.top1:.4f}  top-5 {self.top5:.4f}  ({self.num_images} images)"


def topk_accuracy(
    predictions: Sequence[Sequence[int]], labels: Sequence[int], *, k: int = 5, images: Sequence[str] | None = None
) -> AccuracyResult:
    """Top-1 and top-``k`` accuracy of ranked class ids.

    Args:
        predictions: Per image, class ids best first (a `Classifications`' ``class_ids``, at least 1).
        labels: Per image, the true class id.
        k: The second accuracy's depth (5: top-5).
        images: Per image, a name for the error list (default: the index).

    Raises:
        InputError: Lengths differ, no images, or an image with no prediction.
    """
    if len(predictions) != len(labels) or (images is not None and len(images) != len(labels)):
        raise InputError(f"expected one prediction and one label per image; got {len(predictions)} and {len(labels)}")
    if not labels:
        raise InputError("topk_accuracy: no images to score")
    hit1 = hitk = 0
    errors = []
    for i, (pred, label) in enumerate(zip(predictions, labels, strict=True)):
        ranked = [int(c) for c in pred]
        if not ranked:
            raise InputError(f"image {i}: expected at least one predicted class, got none")
        hit1 += ranked[0] == int(label)
        hitk += int(label) in ranked[:k]
        if ranked[0] != int(label):
            errors.append((images[i] if images is not None else str(i), int(label), ranked[0]))
    n = len(labels)
    return AccuracyResult(hit1 / n, hitk / n, n, tuple(errors))


def _class_index(name: str, names: Sequence[str] | None, where: str) -> int:
    token = name.strip()
    if token.lstrip("-").isdigit():
        idx = int(token)
        if idx < 0 or (names is not None and idx >= len(names)):
            raise InputError(f"{where}: class id {idx} is outside the model's {len(names or ())} classes")
        return idx
    if names is None:
        raise InputError(f"{where}: the label {token!r} is a name; pass the model's class names to map it")
    lookup = {_norm(n): i for i, n in enumerate(names)}
    if _norm(token) not in lookup:
        raise InputError(f"{where}: the label {token!r} is not one of the model's class names {list(names)[:8]}...")
    return lookup[_norm(token)]


def images_from_folders(root: str | Path, names: Sequence[str] | None = None) -> list[tuple[Path, int]]:
    """Labelled images from a folder per class (``root/<class>/<image>``, as torchvision's ``ImageFolder``).

    Args:
        root: The folder of class folders.
        names: The model's class names: each folder is mapped by name (case, spaces and punctuation
            ignored) or by a numeric folder name. None: the folders sorted by name are classes 0, 1, ...

    Returns:
        ``(image path, class id)`` pairs, folders and files in sorted order.

    Raises:
        InputError: ``root`` is not a folder, holds no class folder or no image, or a folder names no class.
    """
    from lite.data.io import IMAGE_SUFFIXES

    base = Path(root)
    if not base.is_dir():
        raise InputError(f"images: expected a folder of class folders, got {base} (not a directory)")
    folders = sorted(p for p in base.iterdir() if p.is_dir())
    if not folders:
        raise InputError(f"{base}: expected one sub-folder per class (root/<class>/<image>), found none")
    out = []
    for i, folder in enumerate(folders):
        cid = i if names is None else _class_index(folder.name, names, f"folder {folder}")
        out += [(p, cid) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not out:
        raise InputError(f"{base}: the class folders hold no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return out


def images_from_labels_file(
    path: str | Path, images: str | Path | None = None, names: Sequence[str] | None = None
) -> list[tuple[Path, int]]:
    """Labelled images from a text file of ``<image> <label>`` lines (ImageNet's ``val.txt`` style).

    Blank lines and lines starting with ``#`` are skipped; the separator is whitespace or a comma; the label
    is a class id or (with ``names``) a class name; image paths are relative to ``images`` (default: the
    file's folder).

    Raises:
        InputError: The file is missing, a line is malformed, a label is unknown or an image is missing.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"labels file not found: {p} (expected lines '<image> <label>')")
    base = Path(images) if images is not None else p.parent
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.replace(",", " ").rsplit(None, 1)
        if len(parts) != 2:
            raise InputError(f"{p}:{n}: expected '<image> <label>', got {text!r}")
        image = base / parts[0].strip()
        if not image.is_file():
            raise ImageNotFoundError(f"{p}:{n}: image {image} not found (paths are relative to {base})")
        out.append((image, _class_index(parts[1], names, f"{p}:{n}")))
    if not out:
        raise InputError(f"{p}: no '<image> <label>' lines")
    return out


def classification_accuracy(
    classify: Any, samples: Sequence[tuple[str | Path, int]], *, k: int = 5, progress: bool = False
) -> AccuracyResult:
    """Top-1 / top-``k`` accuracy of a classifier over labelled images.

    Args:
        classify: A callable taking a BGR ``uint8`` image and returning a
            [`Classifications`][lite.data.classifications.Classifications] (or class ids best first).
        samples: ``(image path, class id)`` pairs (`images_from_folders`, `images_from_labels_file`).
        k: Depth of the second accuracy.
        progress: Show a progress bar on stderr.

    Raises:
        InputError: No samples, or the callable returns no classes for an image.
    """
    from lite.data.classifications import Classifications
    from lite.data.io import load_image

    if not samples:
        raise InputError("classification_accuracy: no labelled images")
    preds, labels, names = [], [], []
    bar = ProgressBar(len(samples), "eval", enabled=progress, dynamic_ncols=True, leave=False)
    try:
        for path, label in samples:
            result = classify(load_image(path))
            ids = result.class_ids if isinstance(result, Classifications) else np.asarray(result).reshape(-1)
            preds.append([int(c) for c in ids])
            labels.append(int(label))
            names.append(str(path))
            bar.update()
    finally:
        bar.close()
    return topk_accuracy(preds, labels, k=k, images=names)

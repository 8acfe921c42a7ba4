"""COCO-style evaluation: bbox mAP of a detector on an annotated image folder, with pycocotools.

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
]

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


# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalResult:
    """The outcome of a COCO bbox evaluation.

    Attributes:
        AP: mAP over IoU 0.50:0.95 (COCO's primary metric).
        AP50: AP at IoU 0.50.
        AP75: AP at IoU 0.75.
        APs: AP on small objects (area < 32²).
        APm: AP on medium objects.
        APl: AP on large objects (area > 96²).
        stats: The 12 numbers of ``COCOeval.stats`` (see `STAT_NAMES`).
        predictions: Where the predictions JSON was written (None if it was not).
        num_images: Images evaluated.
        num_detections: Detections submitted.
        seconds: Wall time of the detection loop (not of pycocotools).
        mapping: How model classes were mapped to categories (``"coco80"``, ``"name"``, ``"order"``).
        summary: pycocotools' printed summary table.
        settings: The detection settings used (conf, iou, max_det, multi_label, input size, model, backend).
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the metrics and settings."""
        return {
            **{k: float(v) for k, v in zip(STAT_NAMES, self.stats, strict=True)},
            "stats": [float(s) for s in self.stats],
            "predictions": str(self.predictions) if self.predictions else None,
            "num_images": self.num_images,
            "num_detections": self.num_detections,
            "seconds": round(self.seconds, 3),
            "mapping": self.mapping,
            "settings": self.settings,
        }

    def __str__(self) -> str:
        return (
            f"AP {self.AP:.4f}  AP50 {self.AP50:.4f}  AP75 {self.AP75:.4f}  "
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

    Returns:
        ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score", ...}, ...]``; the box
        rounded to 3 decimals and the score to 5, as YOLOv6's evaluator writes them.
    """
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    c = np.asarray(class_ids, dtype=np.int64).reshape(-1)
    if not len(b) == len(s) == len(c):
        raise InputError(f"expected as many boxes, scores and class ids; got {len(b)}, {len(s)}, {len(c)}")
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
) -> tuple[tuple[float, ...], str]:
    """COCO bbox evaluation of results records against annotations, with pycocotools.

    Args:
        ann: COCO instances JSON (path or loaded dict).
        results: Results records (see `coco_results`) or the path of a results JSON.
        image_ids: Evaluate on these images only (default: every image of ``ann``).

    Returns:
        ``(stats, summary)``: the 12 ``COCOeval.stats`` numbers and pycocotools' printed table.
        With no results at all every number is 0.
    """
    COCO, COCOeval = _pycocotools()  # noqa: N806 - pycocotools' class names
    data = _load_ann(ann)
    if isinstance(results, str | os.PathLike):
        results = json.loads(Path(results).read_text(encoding="utf-8"))
    records = [{k: v for k, v in r.items() if k in ("image_id", "category_id", "bbox", "score")} for r in results]
    if not records:
        return (0.0,) * len(STAT_NAMES), "no detections: every metric is 0"
    data = dict(data)
    data.setdefault("info", {})
    data.setdefault("licenses", [])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        gt = COCO()
        gt.dataset = data
        gt.createIndex()
        dt = gt.loadRes(records)
        ev = COCOeval(gt, dt, "bbox")
        if image_ids is not None:
            ev.params.imgIds = list(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    summary = "\n".join(line for line in buf.getvalue().splitlines() if line.lstrip().startswith("Average"))
    return tuple(float(s) for s in ev.stats), summary


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
    **detector_kw: Any,
) -> EvalResult:
    """COCO bbox mAP of a detector on a folder of images with COCO annotations.

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
        **detector_kw: Passed to the detector (``device``, ``threads``, backend options...).

    Returns:
        The `EvalResult`.

    Raises:
        InputError: Bad annotations, or classes that cannot be mapped to the categories.
        ImageNotFoundError: An annotated image is missing from ``images``.
        BackendNotInstalledError: pycocotools (or the engine) is not installed.
    """
    from lite.cv.detector import Detector

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
                results += coco_results(rec["id"], d.xyxy, d.scores, d.class_ids, cmap)
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
    return score_results(data, records, results, settings, out_json=out_json, seconds=seconds, mapping=cmap.how)


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
) -> EvalResult:
    """Score COCO-style ``results`` on the annotated ``records`` (pycocotools) and build the `EvalResult`.

    Shared by `coco` and the Ray runner's `lite.tools.distributed.coco_eval`, so both report alike.
    """
    path = write_results(results, out_json) if out_json is not None else None
    stats, summary = evaluate(data, results, image_ids=[r["id"] for r in records])
    return EvalResult(
        *stats[:6],
        stats=stats,
        predictions=path,
        num_images=len(records),
        num_detections=len(results),
        seconds=seconds,
        mapping=mapping,
        summary=summary,
        settings=settings,
    )

"""Parity: do two runs of a model agree? lite's one comparator.

Every check in lite that two runs of a model agree goes through this module, whatever the runs
are — the same image through several files or engines (`compare`, ``lite compare``), an
exported ONNX against its PyTorch model (`lite.export.verify`), a converted model against
its ONNX source (``lite convert``'s check), an end-to-end ONNX model against lite's own NMS:

1. **run** the models on the same inputs (`run_backend` for any file lite opens);
2. **per-output differences** (`diff_outputs`): outputs are paired by name and shape, then
   by shape in order (names differ between formats: ``outputs`` in ONNX is ``out0`` in NCNN;
   `match_outputs`), and each pair gets one `OutputDiff` over every input — the
   largest absolute difference, the squared error, the relative L2 error ``‖a − b‖ / ‖a‖`` and
   the number of elements outside ``|b − a| <= atol + rtol·|a|``;
3. **detection matching** (`match_detections`): same class and IoU ≥ ``iou``, one to one; a matched pair's
   instance masks by mask IoU and its keypoints by pixel distance (segmentation and pose models);
   classifiers by their top-k classes and class probabilities (`diff_top_k`);
4. **a report**: `Comparison` (one reference against one target over a set of inputs) or
   `CompareReport` (one image through several models).

Example:
    ```python
    import lite

    report = lite.compare(["yolov6lite_s_320_raw.onnx", "yolov6-lite-s.param"], "bus.jpg")
    print(report.table())
    assert report.ok
    ```

Only numpy is imported at module level; engines load when a run opens them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from lite.backends._onnx import QUANTIZED_RTOL
from lite.core.errors import InputError, VerificationError

__all__ = [
    "ATOL",
    "IOU",
    "RTOL",
    "SCORE_TOL",
    "TopKDiff",
    "CompareReport",
    "Comparison",
    "DetectionDiff",
    "KPT_PX",
    "MASK_IOU",
    "OutputDiff",
    "RunResult",
    "array_diff",
    "compare",
    "diff_top_k",
    "diff_outputs",
    "format_table",
    "is_quantized",
    "match_detections",
    "mask_ious",
    "match_outputs",
    "output_tolerances",
    "run_backend",
    "to_numpy",
]

#: Default tolerances of `compare`: relative L2 error, largest absolute difference, box IoU, score difference.
RTOL, ATOL, IOU, SCORE_TOL = 1e-3, 5e-2, 0.99, 0.01
#: Default task tolerances of `compare`: the smallest mask IoU of a matched pair of instances, and the largest
#: distance in image pixels between a matched pair's keypoints. Measured (docs/conversion.md,
#: scripts/task_parity.py): the int8 YOLOv8n-seg on OpenVINO vs ONNX Runtime has mask IoU >= 0.967 on bus/zidane;
#: lite's demo pose model, whose saturated scores let a one-ulp difference pick a neighbouring anchor, keypoints
#: within 2.7 px on 40 scenes.
MASK_IOU, KPT_PX = 0.95, 3.0
#: The hint printed with a quantized model's verdict.
QUANTIZED_HINT = (
    "quantized (int8) model: engines round its quantized activations differently, so outputs are compared by "
    f"relative L2 error (<= {QUANTIZED_RTOL:g}) and by their detections, not by the largest difference"
)


def output_tolerances(*, quantized: bool, rtol: float | None = None, atol: float | None = None) -> tuple[float, float]:
    """The one rule for ``(rtol, atol)`` of an output comparison (`compare` and conversion checks use it).

    A value given wins. Otherwise: a quantized model gets ``rtol = QUANTIZED_RTOL`` and no bound on the
    largest difference (`QUANTIZED_HINT` says why); any other model `RTOL` and `ATOL`.
    """
    if quantized:
        return (QUANTIZED_RTOL if rtol is None else rtol), (math.inf if atol is None else atol)
    return (RTOL if rtol is None else rtol), (ATOL if atol is None else atol)


def is_quantized(backend: Any) -> bool:
    """Whether an opened model has quantization ops: the backend's own ``quantized`` flag, else its ONNX graph."""
    flag = getattr(backend, "quantized", None)
    if flag is not None:
        return bool(flag)
    path = Path(getattr(backend, "model_path", ""))
    if path.suffix.lower() != ".onnx" or not path.is_file():
        return False
    from lite.backends._onnx import is_quantized as graph_is_quantized
    from lite.backends._onnx import load_onnx

    return graph_is_quantized(load_onnx(path, weights=False))


# ----------------------------------------------------------------------------------------------
# per-output differences
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutputDiff:
    """One reference output against the matching output of the compared model, over every input.

    Attributes:
        ref: Name of the reference output.
        name: Name of the matching output of the compared model (None: no output of that shape).
        shape: Shape of the reference output (of one input).
        max_abs: Largest absolute difference (NaN when unmatched, inf when only one side is non-finite).
        sse: Sum of squared differences.
        ref_sq: Sum of squared reference values.
        size: Number of compared elements.
        mismatched: Elements outside ``|b - a| <= atol + rtol * |a|``.
        ok: Within the tolerance the comparison used (see `diff_outputs`).
    """

    ref: str
    name: str | None
    shape: tuple[int, ...]
    max_abs: float = math.nan
    sse: float = math.nan
    ref_sq: float = math.nan
    size: int = 0
    mismatched: int = 0
    ok: bool = False

    @property
    def mse(self) -> float:
        """Mean squared error (0 for no element)."""
        return self.sse / self.size if self.size else 0.0

    @property
    def rel_l2(self) -> float:
        """``‖b − a‖₂ / ‖a‖₂``: 0 when both are all zeros, infinite when only the reference is."""
        return _rel(self.sse, self.ref_sq)


def _rel(sse: float, ref_sq: float) -> float:
    if math.isnan(sse):
        return math.nan
    if ref_sq == 0:
        return 0.0 if sse == 0 else math.inf
    return math.sqrt(sse / ref_sq)


def to_numpy(x: Any) -> np.ndarray:
    """An array, a torch tensor (detached, on the CPU) or anything array-like as a numpy array."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class _Acc:
    """Running sums of one output pair over several inputs."""

    def __init__(self) -> None:
        self.max_abs, self.sse, self.ref_sq, self.size, self.bad = 0.0, 0.0, 0.0, 0, 0

    def add(self, ref: np.ndarray, got: np.ndarray, rtol: float, atol: float) -> None:
        r = ref.astype(np.float64)
        g = got.astype(np.float64)
        d = g - r
        finite = np.isfinite(d)
        if not finite.all():
            same_nonfinite = (np.isnan(r) & np.isnan(g)) | (np.isinf(r) & (r == g))
            if not same_nonfinite[~finite].all():
                self.max_abs = math.inf
            d = np.where(finite, d, 0.0)
        if d.size:
            self.max_abs = max(self.max_abs, float(np.abs(d).max()))
        self.sse += float(np.square(d).sum())
        self.ref_sq += float(np.square(np.where(np.isfinite(r), r, 0.0)).sum())
        self.size += d.size
        if math.isfinite(atol):  # an unbounded atol (a quantized model): no element is off tolerance
            self.bad += int((~np.isclose(g, r, rtol=rtol, atol=atol, equal_nan=True)).sum())


def array_diff(a: Any, b: Any) -> tuple[float, float]:
    """``(max |a - b|, ‖a - b‖ / ‖a‖)`` of two arrays of one shape (compared in float64).

    The relative error is 0 when both are all zeros, infinite when only ``a`` is.
    """
    x = to_numpy(a)
    acc = _Acc()
    acc.add(x, to_numpy(b).reshape(x.shape), 0.0, 0.0)
    return acc.max_abs, _rel(acc.sse, acc.ref_sq)


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def match_outputs(ref: Mapping[str, Any], other: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """Pair each reference output with an output of another model.

    Names differ between formats (ONNX ``outputs`` vs NCNN ``out0``), so an output is matched
    by: the same name and shape; else the first unused output of the same shape, in order;
    else the first unused one of the same shape without unit dimensions.

    Args:
        ref: Reference name → array (or anything with ``.shape``), in output order.
        other: The other model's name → array.

    Returns:
        ``(ref_name, other_name or None)`` for every reference output, in reference order.
    """
    shapes = {n: tuple(np.shape(v)) for n, v in other.items()}
    used: set[str] = set()
    pairs: dict[str, str | None] = {}
    for n, v in ref.items():
        if n in shapes and shapes[n] == tuple(np.shape(v)):
            pairs[n] = n
            used.add(n)
    for key in (lambda s: s, _squeezed):
        for n, v in ref.items():
            if n in pairs:
                continue
            s = key(tuple(np.shape(v)))
            hit = next((m for m in other if m not in used and key(shapes[m]) == s), None)
            if hit is not None:
                pairs[n] = hit
                used.add(hit)
    return [(n, pairs.get(n)) for n in ref]


def diff_outputs(
    refs: Sequence[Mapping[str, Any]],
    gots: Sequence[Mapping[str, Any]],
    *,
    rtol: float,
    atol: float,
    elementwise: bool = False,
    pairs: Sequence[tuple[str, str | None]] | None = None,
) -> tuple[list[OutputDiff], list[str]]:
    """Compare the outputs of two runs over the same inputs, one `OutputDiff` per reference output.

    Args:
        refs: Per input, the reference run's outputs (name → array, in output order).
        gots: Per input, the compared run's outputs.
        rtol: Relative tolerance.
        atol: Absolute tolerance.
        elementwise: The verdict: every element within ``|b − a| <= atol + rtol·|a|`` (True), or
            the output as a whole within ``rel L2 <= rtol`` and ``max |b − a| <= atol`` (False).
        pairs: ``(reference name, compared name or None)`` per reference output (default:
            `match_outputs` on the first input).

    Returns:
        ``(diffs, notes)``: notes say which outputs were compared in another shape with the same elements.

    Raises:
        VerificationError: A paired output has another number of elements than its reference.
        InputError: ``refs`` and ``gots`` cover different numbers of inputs.
    """
    if len(refs) != len(gots):
        raise InputError(f"diff_outputs: {len(refs)} reference runs but {len(gots)} compared runs")
    if not refs:
        return [], []
    if pairs is None:
        pairs = match_outputs(refs[0], gots[0])
    notes: list[str] = []
    diffs: list[OutputDiff] = []
    for ref_name, name in pairs:
        shape = tuple(int(d) for d in np.shape(refs[0][ref_name]))
        if name is None:
            diffs.append(OutputDiff(ref_name, None, shape))
            continue
        acc = _Acc()
        for ref_out, got_out in zip(refs, gots, strict=True):
            r, g = to_numpy(ref_out[ref_name]), to_numpy(got_out[name])
            if g.shape != r.shape:
                if g.size != r.size:
                    raise VerificationError(
                        f"output {name!r}: expected shape {tuple(r.shape)} like the reference, got {tuple(g.shape)}"
                    )
                note = f"output {name!r}: shape {tuple(g.shape)} compared as {tuple(r.shape)} (same elements)"
                if note not in notes:
                    notes.append(note)
                g = g.reshape(r.shape)
            shape = tuple(int(d) for d in r.shape)
            acc.add(r, g, rtol, atol)
        rel = _rel(acc.sse, acc.ref_sq)
        # a non-finite value where the reference has none makes max_abs infinite: never within tolerance
        ok = acc.bad == 0 if elementwise else (rel <= rtol and acc.max_abs <= atol and math.isfinite(acc.max_abs))
        diffs.append(OutputDiff(ref_name, name, shape, acc.max_abs, acc.sse, acc.ref_sq, acc.size, acc.bad, ok))
    return diffs, notes


# ----------------------------------------------------------------------------------------------
# detection matching
# ----------------------------------------------------------------------------------------------
class Boxes(NamedTuple):
    """Detections as three arrays (anything with ``xyxy``, ``scores`` and ``class_ids`` works the same)."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray


@dataclass(frozen=True)
class DetectionDiff:
    """Detections of a model against the reference detections (greedy one-to-one matching).

    Attributes:
        n_ref: Reference detections.
        n: This model's detections.
        matched: Pairs with the same class and IoU ≥ the threshold.
        missing: Reference detections without a match, not counting borderline ones (score
            within ``score_tol`` of the confidence threshold, which may fall either side).
        extra: This model's detections without a match, borderline ones not counted.
        max_score_diff: Largest score difference over the matched pairs.
        min_iou: Smallest IoU over the matched pairs (1.0 when none).
        ok: Nothing missing, nothing extra, scores within tolerance (and masks, keypoints).
        pairs: ``(reference index, index)`` of every matched pair, in reference score order.
        min_mask_iou: Smallest mask IoU over the matched pairs (None: the reference has no masks; 1.0 when none
            are matched; 0.0 when only one side has masks).
        max_kpt_px: Largest distance between a matched pair's keypoints, in image pixels (None: the reference has
            no keypoints; inf when only one side has them or their counts differ).
        max_box_px: Largest difference of a matched pair's box coordinates, in image pixels (0.0 when none).
    """

    n_ref: int
    n: int
    matched: int
    missing: int
    extra: int
    max_score_diff: float
    min_iou: float
    ok: bool
    pairs: tuple[tuple[int, int], ...] = field(default=(), repr=False)
    min_mask_iou: float | None = None
    max_kpt_px: float | None = None
    max_box_px: float = 0.0

    @property
    def fraction(self) -> float:
        """Matched pairs over the larger of the two detection counts (1.0 when both are empty)."""
        top = max(self.n_ref, self.n)
        return 1.0 if top == 0 else self.matched / top


def match_detections(
    ref: Any,
    other: Any,
    *,
    iou: float = IOU,
    score_tol: float = SCORE_TOL,
    conf: float = 0.25,
    mask_iou: float = MASK_IOU,
    kpt_px: float = KPT_PX,
) -> DetectionDiff:
    """Match two sets of detections one-to-one (greedy, reference by score).

    Matched pairs of a segmentation model are then compared by mask IoU, of a pose model by keypoint distance
    (when the reference detections carry ``masks`` / ``keypoints``).

    Args:
        ref: Reference detections: a `Detections`, a `Boxes`, or
            anything with ``xyxy``, ``scores`` and ``class_ids``.
        other: The compared detections.
        iou: IoU a pair needs (with the same class); 0 pairs any two of one class.
        score_tol: Score difference a pair may have.
        conf: The detectors' score threshold. Unmatched detections whose score is within
            ``score_tol`` of it are borderline (a tiny numeric difference can put them on either
            side of the threshold) and do not count as missing or extra.
        mask_iou: Mask IoU every matched pair needs (instances with masks).
        kpt_px: Largest keypoint distance in pixels a matched pair may have (instances with keypoints).
    """
    from lite.ops.nms import box_iou

    n_ref, n = len(ref.scores), len(other.scores)
    if n_ref and n:
        same = np.asarray(ref.class_ids)[:, None] == np.asarray(other.class_ids)[None, :]
        ious = np.where(same, box_iou(np.asarray(ref.xyxy), np.asarray(other.xyxy)), 0.0)
    else:
        same, ious = np.zeros((n_ref, n), bool), np.zeros((n_ref, n))
    taken = np.zeros(n, bool)
    pairs: list[tuple[int, int]] = []
    score_diffs, pair_ious, unmatched_ref = [], [], []
    for i in np.argsort(-np.asarray(ref.scores), kind="stable"):
        cand = np.flatnonzero(~taken & same[i] & (ious[i] >= iou))
        if len(cand) == 0:
            unmatched_ref.append(i)
            continue
        j = int(cand[np.argmax(ious[i, cand])])
        taken[j] = True
        pairs.append((int(i), j))
        score_diffs.append(abs(float(ref.scores[i]) - float(other.scores[j])))
        pair_ious.append(float(ious[i, j]))
    edge = conf + score_tol
    missing = sum(1 for i in unmatched_ref if float(ref.scores[i]) >= edge)
    extra = sum(1 for j in np.flatnonzero(~taken) if float(other.scores[j]) >= edge)
    max_sd = max(score_diffs, default=0.0)
    min_mask = _pair_mask_iou(ref, other, pairs)
    max_kpt = _pair_kpt_px(ref, other, pairs)
    box_px = 0.0
    if pairs:
        i, j = (np.array(k) for k in zip(*pairs, strict=True))
        box_px = float(np.abs(np.asarray(ref.xyxy, np.float64)[i] - np.asarray(other.xyxy, np.float64)[j]).max())
    return DetectionDiff(
        n_ref=n_ref,
        n=n,
        matched=len(pairs),
        missing=missing,
        extra=extra,
        max_score_diff=max_sd,
        min_iou=min(pair_ious, default=1.0),
        ok=missing == 0
        and extra == 0
        and max_sd <= score_tol
        and (min_mask is None or min_mask >= mask_iou)
        and (max_kpt is None or max_kpt <= kpt_px),
        pairs=tuple(pairs),
        min_mask_iou=min_mask,
        max_kpt_px=max_kpt,
        max_box_px=box_px,
    )


def mask_ious(a: Any, b: Any) -> np.ndarray:
    """IoU of each pair of masks ``a[i]``, ``b[i]`` (boolean ``(P, H, W)`` each; two empty masks: 1.0).

    Raises:
        InputError: The two stacks differ in shape.
    """
    x, y = np.asarray(a, bool), np.asarray(b, bool)
    if x.shape != y.shape or x.ndim != 3:
        raise InputError(f"mask_ious: expected two (P, H, W) mask stacks of one shape, got {x.shape} and {y.shape}")
    inter = np.logical_and(x, y).reshape(len(x), -1).sum(1)
    union = np.logical_or(x, y).reshape(len(x), -1).sum(1)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _pair_mask_iou(ref: Any, other: Any, pairs: Sequence[tuple[int, int]]) -> float | None:
    """Smallest mask IoU of the matched pairs (None: the reference has no masks; 0.0: only it has them)."""
    a, b = getattr(ref, "masks", None), getattr(other, "masks", None)
    if a is None:
        return None
    if b is None or np.shape(a)[1:] != np.shape(b)[1:]:
        return 0.0
    if not pairs:
        return 1.0
    i, j = (np.array(k) for k in zip(*pairs, strict=True))
    return float(mask_ious(np.asarray(a)[i], np.asarray(b)[j]).min())


def _pair_kpt_px(ref: Any, other: Any, pairs: Sequence[tuple[int, int]]) -> float | None:
    """Largest distance (pixels) between the keypoints of the matched pairs (None: the reference has none)."""
    a, b = getattr(ref, "keypoints", None), getattr(other, "keypoints", None)
    if a is None:
        return None
    if b is None or np.shape(a)[1:] != np.shape(b)[1:]:
        return math.inf
    if not pairs:
        return 0.0
    i, j = (np.array(k) for k in zip(*pairs, strict=True))
    d = np.asarray(a, np.float64)[i, :, :2] - np.asarray(b, np.float64)[j, :, :2]
    return float(np.hypot(d[..., 0], d[..., 1]).max())


@dataclass(frozen=True)
class TopKDiff:
    """A classifier's top-k classes against the reference's, on one image.

    Attributes:
        ref_ids: The reference's top-k class ids, best first.
        ids: This model's top-k class ids.
        ref_scores: The reference's top-k probabilities.
        scores: This model's top-k probabilities.
        max_score_diff: Largest probability difference over every class (not only the top k).
        ok: ``max_score_diff <= score_tol``: then the top-k ids can differ only where two classes score within
            ``2 * score_tol`` of each other (a tie, which the int8 rounding of an engine may break either way).
    """

    ref_ids: tuple[int, ...]
    ids: tuple[int, ...]
    ref_scores: tuple[float, ...]
    scores: tuple[float, ...]
    max_score_diff: float
    ok: bool

    @property
    def ids_equal(self) -> bool:
        """The same top-k ids in the same order."""
        return self.ref_ids == self.ids

    @property
    def top1_equal(self) -> bool:
        """The same best class."""
        return self.ref_ids[:1] == self.ids[:1]


def diff_top_k(ref: Any, other: Any, *, k: int = 5, score_tol: float = SCORE_TOL) -> TopKDiff:
    """Compare two classifiers' class probabilities of one image: the top-k ids and every class's probability.

    Args:
        ref: The reference's ``(C,)`` class probabilities.
        other: The compared model's ``(C,)`` class probabilities.
        k: How many classes make the top k.
        score_tol: Probability difference allowed for any class.

    Raises:
        InputError: The two have different class counts.
    """
    from lite.ops.classify import top_k

    a, b = np.asarray(ref, np.float64).reshape(-1), np.asarray(other, np.float64).reshape(-1)
    if a.shape != b.shape:
        raise InputError(f"diff_top_k: the reference has {a.size} classes, the compared model {b.size}")
    ref_ids, ref_scores = top_k(a, k)
    ids, scores = top_k(b, k)
    worst = float(np.abs(a - b).max()) if a.size else 0.0
    return TopKDiff(
        tuple(int(i) for i in ref_ids),
        tuple(int(i) for i in ids),
        tuple(round(float(x), 6) for x in ref_scores),
        tuple(round(float(x), 6) for x in scores),
        worst,
        worst <= score_tol,
    )


# ----------------------------------------------------------------------------------------------
# running a model file
# ----------------------------------------------------------------------------------------------
def run_backend(
    model: Any,
    samples: Sequence[Sequence[Any]],
    backend: str | None = None,
    **options: Any,
) -> list[dict[str, np.ndarray]]:
    """Run a model on several inputs through a lite backend; its outputs per input.

    Args:
        model: A model file (opened with ``lite.backends.create``) or an open backend (left open).
        samples: Per input, one array per model input, fed to the inputs in order.
        backend: Backend name (None: from the file suffix).
        **options: Passed to ``lite.backends.create`` (``threads``, ``device`` …).

    Raises:
        InputError: A sample has another number of arrays than the model has inputs.
    """
    from lite.backends import Backend, create

    be = model if isinstance(model, Backend) else create(model, backend, **options)
    try:
        return [be.infer(feed_for(be, s)) for s in samples]
    finally:
        if be is not model:
            be.close()


def feed_for(backend: Any, sample: Sequence[Any]) -> dict[str, np.ndarray]:
    """Name → contiguous array of one input sample, in the backend's input order (cast to each input's dtype)."""
    specs = backend.inputs
    if len(sample) != len(specs):
        raise InputError(
            f"{backend.model_path} has {len(specs)} input(s) {[s.name for s in specs]}, the sample has {len(sample)}"
        )
    feed = {}
    for spec, x in zip(specs, sample, strict=True):
        a = to_numpy(x)
        dtype = getattr(spec, "dtype", None)
        feed[spec.name] = np.ascontiguousarray(a if dtype is None or a.dtype == dtype else a.astype(dtype))
    return feed


# ----------------------------------------------------------------------------------------------
# reports
# ----------------------------------------------------------------------------------------------
def _sci(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.2e}"


def _ms(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2f}" if x < 10 else f"{x:.1f}")


def format_table(rows: list[list[str]]) -> str:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def fmt(r: list[str]) -> str:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    out = [fmt(rows[0]), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in rows[1:]]
    return "\n".join(out)


@dataclass
class Comparison:
    """One reference (PyTorch, ONNX Runtime …) against one target (ONNX Runtime, NCNN, MNN …) over a set of inputs.

    Attributes:
        reference: What produced the expected values, e.g. ``"PyTorch"``.
        target: What was checked, e.g. ``"ONNX Runtime"``.
        outputs: Per-output differences.
        samples: Number of inputs compared.
        rtol: Relative tolerance used.
        atol: Absolute tolerance used.
        reference_ms: Median latency of the reference on one sample (ms), if measured.
        target_ms: Median latency of the target on one sample (ms), if measured.
        ok: Overrides the per-output verdict (checks that are not per output, such as NMS outputs).
        notes: Extra lines explaining the verdict.
    """

    reference: str
    target: str
    outputs: list[OutputDiff]
    samples: int
    rtol: float
    atol: float
    reference_ms: float | None = None
    target_ms: float | None = None
    ok: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every output is within tolerance (or the explicit verdict says so)."""
        if self.ok is not None:
            return self.ok
        return all(o.ok for o in self.outputs)

    @property
    def max_abs(self) -> float:
        """Largest absolute difference over every output."""
        return max((o.max_abs for o in self.outputs), default=0.0)

    @property
    def mse(self) -> float:
        """Mean squared error over every element of every output."""
        size = sum(o.size for o in self.outputs)
        return sum(o.sse for o in self.outputs) / size if size else 0.0

    @property
    def rel_l2(self) -> float:
        """Relative L2 error over every output together."""
        return _rel(sum(o.sse for o in self.outputs), sum(o.ref_sq for o in self.outputs))

    @property
    def title(self) -> str:
        return f"{self.reference} vs {self.target}"

    def summary(self) -> str:
        """One line, e.g. ``PyTorch vs ONNX Runtime: max abs 1.2e-06, MSE 3.1e-14, rel L2 2.0e-07, …``."""
        parts = [f"max abs {_sci(self.max_abs)}", f"MSE {_sci(self.mse)}", f"rel L2 {_sci(self.rel_l2)}"]
        if self.reference_ms is not None:
            parts.append(f"{self.reference} {_ms(self.reference_ms)} ms")
        if self.target_ms is not None:
            parts.append(f"{self.target} {_ms(self.target_ms)} ms")
        verdict = "ok" if self.passed else "FAILED"
        return f"{self.title}: " + ", ".join(parts) + f" [{verdict}]"

    def details(self) -> str:
        """A per-output table (which output differs, by how much, how many elements are off)."""
        rows = [["output", "shape", "max abs", "MSE", "rel L2", "off-tolerance"]]
        for o in self.outputs:
            rows.append(
                [
                    o.name or o.ref,
                    "x".join(map(str, o.shape)),
                    _sci(o.max_abs),
                    _sci(o.mse),
                    _sci(o.rel_l2),
                    f"{o.mismatched}/{o.size}",
                ]
            )
        text = format_table(rows)
        lines = [f"{self.title} on {self.samples} input(s), tolerance |d| <= {self.atol:g} + {self.rtol:g}*|ref|", text]
        lines += self.notes
        return "\n".join(lines)


@dataclass
class RunResult:
    """One model on one backend, in a `CompareReport`.

    Attributes:
        model: The model file.
        backend: Backend name.
        detections: Number of detections (0 for a classifier).
        outputs: Per reference output, the comparison (empty for the reference itself).
        detection_diff: Detections against the reference (None for the reference itself and for a classifier).
        task: The model's task (``"detect"``, ``"segment"``, ``"pose"``, ``"classify"``).
        top_k: A classifier's top-k class ids on the image, best first (empty for other tasks).
        top_k_diff: A classifier's top-k against the reference's (None for the reference and other tasks).
    """

    model: str
    backend: str
    detections: int
    outputs: list[OutputDiff] = field(default_factory=list)
    detection_diff: DetectionDiff | None = None
    task: str = "detect"
    top_k: tuple[int, ...] = ()
    top_k_diff: TopKDiff | None = None

    @property
    def ok(self) -> bool:
        """Every matched output within tolerance and the detections (or the top-k classes) agree."""
        outputs_ok = all(d.ok for d in self.outputs if d.name is not None)
        topk_ok = self.top_k_diff is None or self.top_k_diff.ok
        return outputs_ok and (self.detection_diff is None or self.detection_diff.ok) and topk_ok


@dataclass
class CompareReport:
    """What `compare` found.

    Attributes:
        image: The image (path or a description of the array).
        input_shape: Shape of the tensor every model received.
        runs: The reference run first, then one per compared model.
        rtol: Relative L2 tolerance per output.
        atol: Absolute tolerance (largest difference) per output.
        iou: IoU a detection pair needs to match.
        score_tol: Score difference a matched pair may have (a class probability, for classifiers).
        note: Why the tolerances are what they are (`QUANTIZED_HINT` for a quantized model), or "".
        mask_iou: Mask IoU a matched pair of instances needs (segmentation).
        kpt_px: Keypoint distance in pixels a matched pair may have (pose).
    """

    image: str
    input_shape: tuple[int, ...]
    runs: list[RunResult]
    rtol: float = RTOL
    atol: float = ATOL
    iou: float = IOU
    score_tol: float = SCORE_TOL
    note: str = ""
    mask_iou: float = MASK_IOU
    kpt_px: float = KPT_PX

    @property
    def task(self) -> str:
        """The task of the compared models (the reference's)."""
        return self.runs[0].task if self.runs else "detect"

    @property
    def ok(self) -> bool:
        """True when every run agrees with the reference within the tolerances."""
        return all(r.ok for r in self.runs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the whole report."""
        d = asdict(self)
        d["ok"] = self.ok
        for run, rd in zip(self.runs, d["runs"], strict=True):
            rd["ok"] = run.ok
            for o, od in zip(run.outputs, rd["outputs"], strict=True):
                od["rel_l2"] = o.rel_l2
            if run.detection_diff is not None:
                rd["detection_diff"]["fraction"] = run.detection_diff.fraction
                del rd["detection_diff"]["pairs"]
            if run.top_k_diff is not None:
                rd["top_k_diff"]["ids_equal"] = run.top_k_diff.ids_equal
                rd["top_k_diff"]["top1_equal"] = run.top_k_diff.top1_equal
        return d

    def raise_for_failure(self) -> None:
        """Raise `VerificationError` (with the table) unless `ok`."""
        if not self.ok:
            raise VerificationError("models disagree beyond tolerance:\n" + self.table())

    def table(self) -> str:
        """A plain-text table: one row per output, one line per model for the detections."""
        ref = self.runs[0]
        shape = "x".join(map(str, self.input_shape))
        lines = [f"image {self.image}, input {shape} (letterboxed once, by the first model)"]
        header = f"{'#':>2}  {'model':<34} {'backend':<8} {'output':<10} {'matched':<10} {'shape':<14} "
        header += f"{'max|diff|':>10} {'rel L2':>10}  result"
        lines += [header, "-" * len(header)]
        what = (
            f"top-{len(ref.top_k)} classes {list(ref.top_k)}"
            if ref.task == "classify"
            else f"{ref.detections} detections" + _WITH.get(ref.task, "")
        )
        lines.append(f"{0:>2}  {_short(ref.model):<34} {ref.backend:<8} reference ({ref.task}): {what}")
        for i, run in enumerate(self.runs[1:], start=1):
            lines += _run_lines(i, run)
        bound = f"max|diff| <= {self.atol:g}" if math.isfinite(self.atol) else "max|diff| not bounded"
        if self.task == "classify":
            checks = f"every class probability within {self.score_tol:g}"
        else:
            checks = f"IoU >= {self.iou:g} with the same class, score diff <= {self.score_tol:g}"
            if self.task == "segment":
                checks += f", mask IoU >= {self.mask_iou:g}"
            elif self.task == "pose":
                checks += f", keypoints within {self.kpt_px:g} px"
        lines.append(f"result: {'PASS' if self.ok else 'FAIL'} (rel L2 <= {self.rtol:g}, {bound}, {checks})")
        if self.note:
            lines.append(f"note: {self.note}")
        return "\n".join(lines)

    __str__ = table


_WITH = {"segment": " with masks", "pose": " with keypoints"}


def _run_lines(i: int, run: RunResult) -> list[str]:
    lines = []
    for k, d in enumerate(run.outputs):
        lead = f"{i:>2}  {_short(run.model):<34} {run.backend:<8}" if k == 0 else " " * 47
        shp = "x".join(map(str, d.shape))
        if d.name is None:
            lines.append(f"{lead} {d.ref:<10} {'-':<10} {shp:<14} {'':>10} {'':>10}  no output of this shape")
            continue
        verdict = "ok" if d.ok else "FAIL"
        lines.append(f"{lead} {d.ref:<10} {d.name:<10} {shp:<14} {d.max_abs:>10.3g} {d.rel_l2:>10.3g}  {verdict}")
    if not run.outputs:
        lines.append(f"{i:>2}  {_short(run.model):<34} {run.backend:<8} (no outputs to compare)")
    dd = run.detection_diff
    if dd is not None:
        verdict = "ok" if dd.ok else "FAIL"
        task = ""
        if dd.min_mask_iou is not None:
            task += f", min mask IoU {dd.min_mask_iou:.4f}"
        if dd.max_kpt_px is not None:
            task += f", max keypoint dist {dd.max_kpt_px:.3g} px"
        lines.append(
            f"{'':>47} detections {dd.matched}/{max(dd.n_ref, dd.n)} matched ({dd.fraction:.0%}; "
            f"{dd.n} vs {dd.n_ref} ref, {dd.missing} missing, {dd.extra} extra), "
            f"min IoU {dd.min_iou:.4f} (boxes within {dd.max_box_px:.3g} px), max score diff "
            f"{dd.max_score_diff:.4f}{task}  {verdict}"
        )
    tk = run.top_k_diff
    if tk is not None:
        same = "same ids and order" if tk.ids_equal else ("same top-1" if tk.top1_equal else "other top-1")
        lines.append(
            f"{'':>47} top-{len(tk.ids)} {list(tk.ids)} ({same}), max class probability diff "
            f"{tk.max_score_diff:.4g}  {'ok' if tk.ok else 'FAIL'}"
        )
    return lines


def _short(path: str, width: int = 34) -> str:
    name = Path(path).name
    return name if len(name) <= width else "..." + name[-(width - 3) :]


# ----------------------------------------------------------------------------------------------
# compare: one image through several models / backends
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tolerances:
    """What counts as agreement in `compare` (see its arguments)."""

    rtol: float = RTOL
    atol: float = ATOL
    iou: float = IOU
    score_tol: float = SCORE_TOL
    mask_iou: float = MASK_IOU
    kpt_px: float = KPT_PX

    def check(self) -> None:
        """Raise `InputError` for a negative tolerance or an IoU outside [0, 1]."""
        for tol, what in (
            (self.rtol, "rtol"),
            (self.atol, "atol"),
            (self.score_tol, "score_tol"),
            (self.kpt_px, "kpt_px"),
        ):
            if not tol >= 0:
                raise InputError(f"{what}: expected a tolerance >= 0, got {tol}")
        for value, what in ((self.iou, "iou"), (self.mask_iou, "mask_iou")):
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{what}: expected an IoU in [0, 1], got {value}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | Path):
        return [value]
    return list(value)


def _runs(models: Any, backends: Any) -> list[tuple[Any, str | None]]:
    """``(model, backend)`` per run: one backend for all, one model on several backends, or one each."""
    paths = _as_list(models)
    names = [b.strip() or None for b in backends.split(",")] if isinstance(backends, str) else _as_list(backends)
    if not paths:
        raise InputError("compare: expected at least one model")
    if not names:
        names = [None] * len(paths)
    if len(paths) == 1 and len(names) > 1:
        paths = paths * len(names)
    elif len(names) == 1 and len(paths) > 1:
        names = names * len(paths)
    if len(paths) != len(names):
        raise InputError(
            f"compare: {len(paths)} models but {len(names)} backends; give one backend per model, "
            f"one backend for all, or one model with several backends"
        )
    if len(paths) < 2:
        raise InputError("compare: expected at least two runs (two models, or one model with --backends a,b)")
    return list(zip(paths, names, strict=True))


def _input_size(opened: Sequence[Any], input_size: Any) -> Any:
    """The input size every model runs at: the one given, else the fixed size they share (if any)."""
    if input_size is not None:
        return input_size
    fixed = {b.inputs[0].static_hw for b in opened if b.inputs} - {None}
    if len(fixed) > 1:
        raise InputError(f"compare: the models have different fixed input sizes {sorted(fixed)}")
    return next(iter(fixed), None)


def _compare_detectors(detectors: Sequence[Any], image: Any, tol: Tolerances, conf: float) -> tuple[Any, list]:
    """Letterbox once (first detector), run every detector on that tensor, compare each with the first."""
    tensor, transform = detectors[0].preprocess(image)
    runs: list[RunResult] = []
    ref_out: dict[str, np.ndarray] = {}
    ref_dets = None
    for k, det in enumerate(detectors):
        out = det.infer(tensor)
        dets = det.postprocess(out, [transform])[0]
        run = RunResult(str(det.backend.model_path), det.backend.name, len(dets))
        if k == 0:
            ref_out, ref_dets = out, dets
        else:
            run.outputs, _ = diff_outputs([ref_out], [out], rtol=tol.rtol, atol=tol.atol)
            run.detection_diff = match_detections(
                ref_dets, dets, iou=tol.iou, score_tol=tol.score_tol, conf=conf, mask_iou=tol.mask_iou,
                kpt_px=tol.kpt_px,
            )  # fmt: skip
        run.task = det.task
        runs.append(run)
    return tensor, runs


def _compare_classifiers(classifiers: Sequence[Any], image: Any, tol: Tolerances, k: int) -> tuple[Any, list]:
    """Preprocess once (first classifier), run every classifier on that tensor, compare each with the first."""
    from lite.data.io import load_image

    tensor, _ = classifiers[0].preprocess(load_image(image))
    runs: list[RunResult] = []
    ref_out: dict[str, np.ndarray] = {}
    ref_probs = None
    for n, clf in enumerate(classifiers):
        out = clf.infer(tensor)
        probs = clf.probabilities(out)[0]
        run = RunResult(str(clf.backend.model_path), clf.backend.name, 0, task="classify")
        if n == 0:
            ref_out, ref_probs = out, probs
            run.top_k = diff_top_k(probs, probs, k=k).ref_ids
        else:
            run.outputs, _ = diff_outputs([ref_out], [out], rtol=tol.rtol, atol=tol.atol)
            run.top_k_diff = diff_top_k(ref_probs, probs, k=k, score_tol=tol.score_tol)
            run.top_k = run.top_k_diff.ids
        runs.append(run)
    return tensor, runs


def compare(
    models: str | Path | Sequence[str | Path],
    image: Any,
    *,
    backends: str | Sequence[str | None] | None = None,
    input_size: int | Sequence[int] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    iou: float = IOU,
    score_tol: float = SCORE_TOL,
    conf: float = 0.25,
    threads: int | None = None,
    family: str | None = None,
    mask_iou: float = MASK_IOU,
    kpt_px: float = KPT_PX,
    top_k: int = 5,
) -> CompareReport:
    """Run one image through several models / backends and compare them with the first.

    The image is letterboxed once, by the first model, so every engine sees exactly the same tensor. Per
    output: the largest absolute difference and the relative L2 error against the first model; per model: how
    many detections agree with the reference ones (same class and IoU ≥ ``iou``, score within ``score_tol``),
    for a segmentation model the mask IoU of every matched pair (≥ ``mask_iou``), for a pose model the pixel
    distance of their keypoints (≤ ``kpt_px``); for a classifier the top-``top_k`` classes and every class
    probability (within ``score_tol``). The task is the first model's (`ImageModel.from_file`).

    Args:
        models: Model files (or hub names). One model with several ``backends`` runs that file
            on each backend.
        image: Image path, array or PIL image.
        backends: Backend per model (None: from each suffix); one name applies to all models.
            Given as a list or a comma-separated string.
        input_size: Network input size (default: the fixed size of any fixed-shape model, else
            the first model's metadata or class default).
        rtol: Relative L2 tolerance ``‖a − b‖ / ‖a‖`` per output (None: `RTOL`, or `QUANTIZED_RTOL`
            when a model is quantized; see `output_tolerances`).
        atol: Largest absolute difference allowed per output (None: `ATOL`; unbounded for a quantized model).
        iou: IoU a detection needs with its counterpart (same class) to match.
        score_tol: Score difference allowed between matched detections (a class probability, for classifiers).
        conf: Score threshold of the detectors.
        threads: Engine threads for every backend.
        family: Model family of every run (None: read from the first model as `ImageModel.from_file` does;
            the other runs use the same family).
        mask_iou: Mask IoU every matched pair of instances needs (segmentation models).
        kpt_px: Largest distance in image pixels between a matched pair's keypoints (pose models).
        top_k: Classes compared by id (classifiers).

    Returns:
        A `CompareReport`; ``report.ok`` says whether everything agrees, ``report.table()``
        prints it.

    Raises:
        InputError: Fewer than two runs, mismatched ``models``/``backends`` counts, or fixed
            input sizes that differ between models.
    """
    from lite import backends as registry
    from lite.cv.classifier import Classifier
    from lite.cv.family import detect_family, get_family
    from lite.cv.image_model import ImageModel

    runs = _runs(models, backends)
    Tolerances(RTOL if rtol is None else rtol, ATOL if atol is None else atol, iou, score_tol, mask_iou, kpt_px).check()
    opened = []
    try:
        for path, name in runs:
            opened.append(registry.create(ImageModel._resolve(path), name, threads=threads))
        quantized = any(is_quantized(b) for b in opened)
        rtol, atol = output_tolerances(quantized=quantized, rtol=rtol, atol=atol)
        tol = Tolerances(rtol, atol, iou, score_tol, mask_iou, kpt_px)
        size = _input_size(opened, input_size)
        fam = get_family(family) if family is not None else detect_family(opened[0], None, {"input_size": size})
        if issubclass(fam, Classifier):
            first = fam(opened[0], input_size=size, top_k=top_k)
            # the first model's preprocessing for all: its family's preset is said (at most) once
            rest = [fam(b, input_size=first.input_hw, preprocess=first.preprocess_config) for b in opened[1:]]
            tensor, results = _compare_classifiers([first, *rest], image, tol, first.top_k)
        else:
            first = fam(opened[0], input_size=size, conf=conf)
            rest = [fam(b, input_size=first.input_hw, conf=conf) for b in opened[1:]]
            tensor, results = _compare_detectors([first, *rest], image, tol, conf)
    finally:
        for b in opened:
            b.close()
    label = str(image) if isinstance(image, str | Path) else f"<{type(image).__name__}>"
    note = QUANTIZED_HINT if quantized else ""
    shape = tuple(int(d) for d in tensor.shape)
    return CompareReport(label, shape, results, rtol, atol, iou, score_tol, note, mask_iou, kpt_px)

"""Cross-backend parity: the same letterboxed tensor through several models or engines.

:func:`compare` runs one image through every model (the ONNX file and its NCNN and MNN
conversions, or one file on several backends). The image is letterboxed once, by the first
model's detector, so every engine sees exactly the same tensor. It then reports, per output,
the largest absolute difference and the relative L2 error ``‖a − b‖ / ‖a‖`` against the
first model (outputs are matched by name and shape, then by shape in order, since names
differ between formats: ``outputs`` in ONNX is ``out0`` in NCNN), and, per model, how many
detections agree with the reference ones: same class and IoU ≥ ``iou``, score within
``score_tol``.

Example:
    >>> from lite.compare import compare
    >>> report = compare(["yolov6lite_s_320_raw.onnx", "yolov6-lite-s.param"], "bus.jpg")
    >>> print(report.table())
    >>> report.ok
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lite.errors import InputError, VerificationError

__all__ = [
    "CompareReport",
    "DetectionDiff",
    "OutputDiff",
    "RunResult",
    "array_diff",
    "compare",
    "match_detections",
    "match_outputs",
]

#: Default tolerances: relative L2 error, largest absolute difference, box IoU, score difference.
RTOL, ATOL, IOU, SCORE_TOL = 1e-3, 5e-2, 0.99, 0.01


@dataclass(frozen=True)
class OutputDiff:
    """One output of a model against the matching reference output.

    Attributes:
        ref: Name of the reference output.
        name: Name of the matching output (None: no output of the same shape).
        shape: Shape of the reference output.
        max_abs: ``max |a - b|`` (NaN when unmatched).
        rel_l2: ``‖a - b‖ / ‖a‖`` (NaN when unmatched).
        ok: Both within tolerance.
    """

    ref: str
    name: str | None
    shape: tuple[int, ...]
    max_abs: float
    rel_l2: float
    ok: bool


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
        ok: Nothing missing, nothing extra, scores within tolerance.
    """

    n_ref: int
    n: int
    matched: int
    missing: int
    extra: int
    max_score_diff: float
    min_iou: float
    ok: bool

    @property
    def fraction(self) -> float:
        """Matched pairs over the larger of the two detection counts (1.0 when both are empty)."""
        top = max(self.n_ref, self.n)
        return 1.0 if top == 0 else self.matched / top


@dataclass
class RunResult:
    """One model on one backend.

    Attributes:
        model: The model file.
        backend: Backend name.
        detections: Number of detections.
        outputs: Per reference output, the comparison (empty for the reference itself).
        detection_diff: Detections against the reference (None for the reference itself).
    """

    model: str
    backend: str
    detections: int
    outputs: list[OutputDiff] = field(default_factory=list)
    detection_diff: DetectionDiff | None = None

    @property
    def ok(self) -> bool:
        """Every matched output within tolerance and the detections agree."""
        outputs_ok = all(d.ok for d in self.outputs if d.name is not None)
        return outputs_ok and (self.detection_diff is None or self.detection_diff.ok)


@dataclass
class CompareReport:
    """What :func:`compare` found.

    Attributes:
        image: The image (path or a description of the array).
        input_shape: Shape of the tensor every model received.
        runs: The reference run first, then one per compared model.
        rtol: Relative L2 tolerance per output.
        atol: Absolute tolerance (largest difference) per output.
        iou: IoU a detection pair needs to match.
        score_tol: Score difference a matched pair may have.
    """

    image: str
    input_shape: tuple[int, ...]
    runs: list[RunResult]
    rtol: float = RTOL
    atol: float = ATOL
    iou: float = IOU
    score_tol: float = SCORE_TOL

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
            if run.detection_diff is not None:
                rd["detection_diff"]["fraction"] = run.detection_diff.fraction
        return d

    def raise_for_failure(self) -> None:
        """Raise :class:`~lite.errors.VerificationError` (with the table) unless :attr:`ok`."""
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
        lines.append(f"{0:>2}  {_short(ref.model):<34} {ref.backend:<8} reference: {ref.detections} detections")
        for i, run in enumerate(self.runs[1:], start=1):
            first = True
            for d in run.outputs:
                lead = f"{i:>2}  {_short(run.model):<34} {run.backend:<8}" if first else " " * 47
                first = False
                shp = "x".join(map(str, d.shape))
                if d.name is None:
                    lines.append(f"{lead} {d.ref:<10} {'-':<10} {shp:<14} {'':>10} {'':>10}  no output of this shape")
                    continue
                verdict = "ok" if d.ok else "FAIL"
                lines.append(
                    f"{lead} {d.ref:<10} {d.name:<10} {shp:<14} {d.max_abs:>10.3g} {d.rel_l2:>10.3g}  {verdict}"
                )
            if first:
                lines.append(f"{i:>2}  {_short(run.model):<34} {run.backend:<8} (no outputs to compare)")
            dd = run.detection_diff
            if dd is not None:
                verdict = "ok" if dd.ok else "FAIL"
                lines.append(
                    f"{'':>47} detections {dd.matched}/{max(dd.n_ref, dd.n)} matched ({dd.fraction:.0%}; "
                    f"{dd.n} vs {dd.n_ref} ref, {dd.missing} missing, {dd.extra} extra), "
                    f"min IoU {dd.min_iou:.4f}, max score diff {dd.max_score_diff:.4f}  {verdict}"
                )
        lines.append(
            f"result: {'PASS' if self.ok else 'FAIL'} (rel L2 <= {self.rtol:g}, max|diff| <= {self.atol:g}, "
            f"IoU >= {self.iou:g} with the same class, score diff <= {self.score_tol:g})"
        )
        return "\n".join(lines)

    __str__ = table


def _short(path: str, width: int = 34) -> str:
    name = Path(path).name
    return name if len(name) <= width else "..." + name[-(width - 3) :]


# ----------------------------------------------------------------------------------------------
# building blocks
# ----------------------------------------------------------------------------------------------
def array_diff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """``(max |a - b|, ‖a - b‖ / ‖a‖)`` of two arrays of one shape (compared in float64).

    The relative error is 0 when both are all zeros, infinite when only ``a`` is.
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64).reshape(x.shape)
    if x.size == 0:
        return 0.0, 0.0
    d = x - y
    max_abs = float(np.max(np.abs(d)))
    norm, dnorm = float(np.linalg.norm(x)), float(np.linalg.norm(d))
    rel = (0.0 if dnorm == 0 else math.inf) if norm == 0 else dnorm / norm
    return max_abs, rel


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
    keys = (lambda s: s, _squeezed)
    for n, v in ref.items():
        s = tuple(np.shape(v))
        if n in shapes and shapes[n] == s:
            pairs[n] = n
            used.add(n)
    for key in keys:
        for n, v in ref.items():
            if n in pairs:
                continue
            s = key(tuple(np.shape(v)))
            hit = next((m for m in other if m not in used and key(shapes[m]) == s), None)
            if hit is not None:
                pairs[n] = hit
                used.add(hit)
    return [(n, pairs.get(n)) for n in ref]


def match_detections(
    ref: Any,
    other: Any,
    *,
    iou: float = IOU,
    score_tol: float = SCORE_TOL,
    conf: float = 0.25,
) -> DetectionDiff:
    """Match two :class:`~lite.detections.Detections` one-to-one (greedy, reference by score).

    A pair needs the same class and IoU ≥ ``iou``. Unmatched detections whose score is within
    ``score_tol`` of ``conf`` are borderline (a tiny numeric difference can put them on either
    side of the threshold) and do not count as missing or extra.
    """
    from lite.ops.nms import box_iou

    n_ref, n = len(ref.scores), len(other.scores)
    ious = box_iou(ref.xyxy, other.xyxy) if n_ref and n else np.zeros((n_ref, n))
    same = ref.class_ids[:, None] == other.class_ids[None, :] if n_ref and n else np.zeros((n_ref, n), bool)
    ious = np.where(same, ious, 0.0)
    taken = np.zeros(n, bool)
    matched, score_diffs, pair_ious = [], [], []
    unmatched_ref = []
    for i in np.argsort(-ref.scores, kind="stable"):
        cand = np.where(~taken & (ious[i] >= iou))[0] if n else np.zeros(0, np.int64)
        if len(cand) == 0:
            unmatched_ref.append(i)
            continue
        j = cand[np.argmax(ious[i, cand])]
        taken[j] = True
        matched.append((i, j))
        score_diffs.append(abs(float(ref.scores[i]) - float(other.scores[j])))
        pair_ious.append(float(ious[i, j]))
    edge = conf + score_tol
    missing = sum(1 for i in unmatched_ref if float(ref.scores[i]) >= edge)
    extra = sum(1 for j in np.where(~taken)[0] if float(other.scores[j]) >= edge)
    max_sd = max(score_diffs, default=0.0)
    return DetectionDiff(
        n_ref=n_ref,
        n=n,
        matched=len(matched),
        missing=missing,
        extra=extra,
        max_score_diff=max_sd,
        min_iou=min(pair_ious, default=1.0),
        ok=missing == 0 and extra == 0 and max_sd <= score_tol,
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | Path):
        return [value]
    return list(value)


def _static_hw(backend: Any) -> tuple[int, int] | None:
    spec = backend.inputs[0] if backend.inputs else None
    if spec is None or not spec.rank_known or len(spec.shape) != 4:
        return None
    h, w = spec.shape[2], spec.shape[3]
    return (h, w) if isinstance(h, int) and isinstance(w, int) else None


# ----------------------------------------------------------------------------------------------
# the comparison
# ----------------------------------------------------------------------------------------------
def compare(
    models: str | Path | Sequence[str | Path],
    image: Any,
    *,
    backends: str | Sequence[str | None] | None = None,
    input_size: int | Sequence[int] | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    iou: float = IOU,
    score_tol: float = SCORE_TOL,
    conf: float = 0.25,
    threads: int | None = None,
    family: str | None = None,
) -> CompareReport:
    """Run one image through several models / backends and compare them with the first.

    Args:
        models: Model files (or hub names). One model with several ``backends`` runs that file
            on each backend.
        image: Image path, array or PIL image.
        backends: Backend per model (None: from each suffix); one name applies to all models.
            Given as a list or a comma-separated string.
        input_size: Network input size (default: the fixed size of any fixed-shape model, else
            the first model's metadata or class default).
        rtol: Relative L2 tolerance ``‖a − b‖ / ‖a‖`` per output.
        atol: Largest absolute difference allowed per output.
        iou: IoU a detection needs with its counterpart (same class) to match.
        score_tol: Score difference allowed between matched detections.
        conf: Score threshold of the detectors.
        threads: Engine threads for every backend.
        family: Model family of every run (None: read from the first model with
            :meth:`lite.cv.Detector.from_file`; the other runs use the same family).

    Returns:
        A :class:`CompareReport`; ``report.ok`` says whether everything agrees, ``report.table()``
        prints it.

    Raises:
        InputError: Fewer than two runs, mismatched ``models``/``backends`` counts, or fixed
            input sizes that differ between models.
    """
    from lite import backends as registry
    from lite.cv.detector import Detector

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
    for tol, what in ((rtol, "rtol"), (atol, "atol"), (score_tol, "score_tol")):
        if not tol >= 0:
            raise InputError(f"{what}: expected a tolerance >= 0, got {tol}")
    if not 0.0 <= iou <= 1.0:
        raise InputError(f"iou: expected an IoU in [0, 1], got {iou}")

    opened = []
    try:
        for path, name in zip(paths, names, strict=True):
            opened.append(registry.create(Detector._resolve(path), name, threads=threads))
        hw: tuple[int, int] | int | Sequence[int] | None = input_size
        if hw is None:
            fixed = {s for s in (_static_hw(b) for b in opened) if s is not None}
            if len(fixed) > 1:
                raise InputError(f"compare: the models have different fixed input sizes {sorted(fixed)}")
            hw = next(iter(fixed), None)
        first = Detector.from_file(opened[0], family=family, input_size=hw, conf=conf)
        detectors = [first] + [type(first)(b, input_size=first.input_hw, conf=conf) for b in opened[1:]]
        ref_det = detectors[0]
        tensor, transform = ref_det.preprocess(image)
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
                for ref_name, name in match_outputs(ref_out, out):
                    shape = tuple(int(d) for d in ref_out[ref_name].shape)
                    if name is None:
                        run.outputs.append(OutputDiff(ref_name, None, shape, math.nan, math.nan, False))
                        continue
                    max_abs, rel = array_diff(ref_out[ref_name], out[name])
                    run.outputs.append(OutputDiff(ref_name, name, shape, max_abs, rel, rel <= rtol and max_abs <= atol))
                run.detection_diff = match_detections(ref_dets, dets, iou=iou, score_tol=score_tol, conf=conf)
            runs.append(run)
    finally:
        for b in opened:
            b.close()
    label = str(image) if isinstance(image, str | Path) else f"<{type(image).__name__}>"
    return CompareReport(label, tuple(int(d) for d in tensor.shape), runs, rtol, atol, iou, score_tol)

"""Tracking evaluation on MOTChallenge-format ground truth: MOTA, IDF1 and HOTA through TrackEval.

A sequence folder holds ``img1/`` (the frames, in name order), ``gt/gt.txt`` (rows ``frame, id, x, y,
w, h, consider, class, visibility``; frames 1-based) and optionally ``seqinfo.ini``. Results are written
in the same format (``frame, id, x, y, w, h, score, -1, -1, -1``).

Scoring follows MOTChallenge: a result box that matches (IoU >= 0.5) a ground-truth row whose
"consider" flag is 0 is removed before scoring, and such rows are neither hits nor misses. The metrics
themselves are TrackEval's (``CLEAR`` for MOTA, ``Identity`` for IDF1, ``HOTA``), imported lazily
(``pip install 'lite-detect[track]'``); lite only builds their per-frame inputs.

Example:
    ```python
    # not run: needs a sequence folder (lite.demo.tracks.write_sequence; tests/test_track.py runs it)
    from lite.cv import Detector
    from lite.tools.mot import track_sequence

    det = Detector.from_file("lite-demo-shapes.onnx")
    r = track_sequence(det, "crossing")   # a lite.demo.tracks.write_sequence folder
    print(r)                              # MOTA 0.97 IDF1 0.98 HOTA 0.85 ...
    ```
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lite.core.errors import BackendNotInstalledError, ImageNotFoundError, InputError

__all__ = ["MotResult", "evaluate", "read_mot", "track_sequence", "write_mot"]


@dataclass
class MotResult:
    """Tracking metrics of one sequence.

    Attributes:
        MOTA: Multiple-object tracking accuracy (CLEAR).
        IDF1: Identity F1.
        HOTA: Higher-order tracking accuracy (mean over IoU thresholds 0.05..0.95).
        counts: TP, FN, FP, IDSW and the number of ground-truth and result tracks.
    """

    MOTA: float
    IDF1: float
    HOTA: float
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable metrics."""
        return {"MOTA": self.MOTA, "IDF1": self.IDF1, "HOTA": self.HOTA, **self.counts}

    def __str__(self) -> str:
        c = self.counts
        return (
            f"MOTA {self.MOTA:.3f}  IDF1 {self.IDF1:.3f}  HOTA {self.HOTA:.3f}  "
            f"(TP {c.get('TP')}, FN {c.get('FN')}, FP {c.get('FP')}, IDSW {c.get('IDSW')}, "
            f"{c.get('gt_tracks')} true tracks, {c.get('result_tracks')} result tracks)"
        )


def read_mot(path: str | Path) -> np.ndarray:
    """Rows of a MOTChallenge text file as a float ``(N, >= 7)`` array (an empty file gives ``(0, 10)``).

    Raises:
        ImageNotFoundError: The file does not exist.
        InputError: A row with fewer than 7 comma-separated numbers.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageNotFoundError(f"MOTChallenge file not found: {p}")
    text = p.read_text(encoding="utf-8").strip()
    if not text:
        return np.zeros((0, 10))
    try:
        rows = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)
    except ValueError as e:
        raise InputError(f"{p}: expected MOTChallenge rows 'frame, id, x, y, w, h, conf, ...' ({e})") from None
    if rows.shape[1] < 7:
        raise InputError(f"{p}: expected at least 7 values per row (frame, id, x, y, w, h, conf); got {rows.shape[1]}")
    return rows


def write_mot(path: str | Path, rows: list[tuple[int, int, np.ndarray, float]]) -> Path:
    """Write results ``(frame (1-based), track id, xyxy box, score)`` as MOTChallenge rows."""
    lines = []
    for frame, tid, (x1, y1, x2, y2), score in rows:
        lines.append(f"{frame},{tid},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{score:.4f},-1,-1,-1")
    p = Path(path)
    p.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return p


def _iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a1, b1 = a[:, None, :2], b[None, :, :2]
    a2, b2 = a1 + a[:, None, 2:4], b1 + b[None, :, 2:4]
    inter = np.clip(np.minimum(a2, b2) - np.maximum(a1, b1), 0, None).prod(-1)
    union = a[:, None, 2:4].prod(-1) + b[None, :, 2:4].prod(-1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _sequence_data(gt: np.ndarray, res: np.ndarray) -> dict[str, Any]:
    """TrackEval's per-sequence input: ids remapped to 0..n-1 per frame, IoU similarity, ignored rows removed."""
    from scipy.optimize import linear_sum_assignment  # TrackEval's own dependency

    frames = int(max(gt[:, 0].max(initial=0), res[:, 0].max(initial=0)))
    gt_map = {v: i for i, v in enumerate(np.unique(gt[gt[:, 6] != 0, 1]).tolist())}
    data: dict[str, Any] = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_timesteps": frames}
    kept_res: list[np.ndarray] = []
    for f in range(1, frames + 1):
        g, r = gt[gt[:, 0] == f], res[res[:, 0] == f]
        ignored = g[g[:, 6] == 0]
        if len(ignored) and len(r):  # MOTChallenge: results matching an ignored row are dropped
            iou = _iou_xywh(r[:, 2:6], ignored[:, 2:6])
            rows, cols = linear_sum_assignment(-iou)
            drop = rows[iou[rows, cols] >= 0.5]
            r = np.delete(r, drop, axis=0)
        g = g[g[:, 6] != 0]
        kept_res.append(r)
        data["gt_ids"].append(np.array([gt_map[v] for v in g[:, 1].tolist()], dtype=int))
        data["tracker_ids"].append(r[:, 1].astype(int))
        data["similarity_scores"].append(_iou_xywh(g[:, 2:6], r[:, 2:6]))
    all_res = np.concatenate(kept_res) if kept_res else np.zeros((0, 10))
    res_map = {v: i for i, v in enumerate(np.unique(all_res[:, 1]).tolist())}
    data["tracker_ids"] = [np.array([res_map[v] for v in t.tolist()], dtype=int) for t in data["tracker_ids"]]
    data["num_gt_ids"], data["num_tracker_ids"] = len(gt_map), len(res_map)
    data["num_gt_dets"] = int(sum(len(x) for x in data["gt_ids"]))
    data["num_tracker_dets"] = int(sum(len(x) for x in data["tracker_ids"]))
    return data


def evaluate(gt: str | Path | np.ndarray, results: str | Path | np.ndarray) -> MotResult:
    """MOTA, IDF1 and HOTA of tracking results against ground truth (both MOTChallenge rows or files).

    Raises:
        BackendNotInstalledError: TrackEval is not installed.
    """
    try:
        from trackeval.metrics import CLEAR, HOTA, Identity
    except ImportError as e:
        raise BackendNotInstalledError("tracking evaluation needs TrackEval: pip install 'lite-detect[track]'") from e
    g = gt if isinstance(gt, np.ndarray) else read_mot(gt)
    r = results if isinstance(results, np.ndarray) else read_mot(results)
    data = _sequence_data(g, r)
    clear = CLEAR({"PRINT_CONFIG": False}).eval_sequence(data)
    ident = Identity({"PRINT_CONFIG": False}).eval_sequence(data)
    hota = HOTA().eval_sequence(data)
    counts = {
        "TP": int(clear["CLR_TP"]), "FN": int(clear["CLR_FN"]), "FP": int(clear["CLR_FP"]),
        "IDSW": int(clear["IDSW"]), "gt_tracks": data["num_gt_ids"], "result_tracks": data["num_tracker_ids"],
    }  # fmt: skip
    return MotResult(float(clear["MOTA"]), float(ident["IDF1"]), float(np.mean(hota["HOTA"])), counts)


def track_sequence(
    detector: Any,
    sequence: str | Path,
    *,
    tracker: str = "bytetrack",
    results: str | Path | None = None,
    tracker_options: dict[str, Any] | None = None,
) -> MotResult:
    """Track the frames of a MOTChallenge sequence folder with ``detector`` and score them against its ``gt/gt.txt``.

    Args:
        detector: A `lite.cv.Detector`.
        sequence: The folder with ``img1/`` and ``gt/gt.txt``.
        tracker: Tracker name (`lite.cv.track.TRACKERS`).
        results: Also write the results here (MOTChallenge rows).
        tracker_options: Passed to the tracker.

    Raises:
        ImageNotFoundError: ``img1/`` or ``gt/gt.txt`` is missing.
    """
    from lite.cv.track import track_source

    seq = Path(sequence)
    gt_path = seq / "gt" / "gt.txt"
    if not (seq / "img1").is_dir() or not gt_path.is_file():
        raise ImageNotFoundError(
            f"{seq}: expected a MOTChallenge sequence folder with img1/ (frames) and gt/gt.txt; "
            "make a synthetic one with lite.demo.tracks.write_sequence"
        )
    rows = []
    for frame, d in track_source(detector, str(seq / "img1"), tracker=tracker, tracker_options=tracker_options):
        for box, tid, score in zip(d.xyxy.tolist(), d.tracker_id.tolist(), d.scores.tolist(), strict=True):
            rows.append((frame.index + 1, tid + 1, box, score))
    if results is not None:
        write_mot(results, rows)
    res = np.array([[f, t, b[0], b[1], b[2] - b[0], b[3] - b[1], s, -1, -1, -1] for f, t, b, s in rows])
    return evaluate(gt_path, res.reshape(-1, 10))

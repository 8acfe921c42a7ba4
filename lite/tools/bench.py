"""Latency benchmarks of the pipeline, stage by stage, against the engine's bare call, for every task.

`benchmark` opens a model of any task (or takes an opened `Detector` / `Classifier`), warms it up, then times
in the same loop:

* ``pre``: `Detector.preprocess` (letterbox, or a classifier's resize + centre crop, to the network tensor);
* ``infer``: `Detector.infer` (feed check + engine call);
* ``post``: `Detector.postprocess` (decode, NMS, boxes back to the image, the masks or keypoints of the kept
  instances, Detections) or `Classifier.postprocess` (probabilities, top-k, Classifications);
* ``e2e``: `Detector.detect` (or `Classifier.classify`) end to end;
* ``raw``: the engine's own inference call on a prepared tensor
  (`Backend.raw_runner`, e.g. ``session.run`` for ONNX Runtime) -- the baseline.

Each iteration runs the three measurements (raw, e2e, the staged pipeline) in a rotating
order, so a busy machine slows all of them alike. Every stage reports median, mean ± std,
p90 (ms) and images/s; `BenchResult.ratio` is the median end-to-end time over the
median raw call (the library's overhead; 1.0 = none).

Example:
    ```python
    from lite.tools.bench import benchmark, format_table

    r = benchmark("yolov6lite_s_320_decoded.onnx", image="bus.jpg", threads=2, runs=20)
    print(format_table([r]))
    ```
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lite.core.errors import BackendNotInstalledError, InputError
from lite.core.progress import ProgressBar

__all__ = ["STAGES", "Timing", "BenchResult", "benchmark", "format_table", "write_json", "plot", "require_matplotlib",
           "synthetic_image"]  # fmt: skip

#: Stage keys of `BenchResult.stages`, in table order.
STAGES: tuple[str, ...] = ("pre", "infer", "post", "e2e", "raw")
STAGE_TITLES = {
    "pre": "pre-process",
    "infer": "inference",
    "post": "post-process",
    "e2e": "end-to-end",
    "raw": "engine raw",
}


@dataclass(frozen=True)
class Timing:
    """Repeated timings of one stage, in milliseconds."""

    name: str
    times_ms: tuple[float, ...]

    def _a(self) -> np.ndarray:
        return np.asarray(self.times_ms, dtype=np.float64)

    @property
    def median(self) -> float:
        """Median time (ms)."""
        return float(np.median(self._a()))

    @property
    def mean(self) -> float:
        """Mean time (ms)."""
        return float(self._a().mean())

    @property
    def std(self) -> float:
        """Standard deviation (ms)."""
        return float(self._a().std())

    @property
    def p90(self) -> float:
        """90th percentile (ms)."""
        return float(np.percentile(self._a(), 90))

    @property
    def min(self) -> float:
        """Fastest run (ms)."""
        return float(self._a().min())

    @property
    def ips(self) -> float:
        """Images per second at the median time."""
        m = self.median
        return 1000.0 / m if m > 0 else float("inf")

    def to_dict(self) -> dict[str, float]:
        """Summary numbers (ms, images/s)."""
        return {
            "median_ms": self.median,
            "mean_ms": self.mean,
            "std_ms": self.std,
            "p90_ms": self.p90,
            "min_ms": self.min,
            "images_per_s": self.ips,
        }


@dataclass(frozen=True)
class BenchResult:
    """The timings of one model on one backend."""

    label: str
    model: str
    backend: str
    device: str
    threads: int | None
    input_hw: tuple[int, int]
    image_shape: tuple[int, ...]
    runs: int
    warmup: int
    stages: dict[str, Timing]
    num_detections: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: The model's task: ``detect``, ``segment``, ``pose`` (``num_detections`` counts its instances) or
    #: ``classify`` (``num_detections`` is the number of classes returned, the top-k).
    task: str = "detect"

    @property
    def ratio(self) -> float:
        """Median end-to-end time / median raw engine call."""
        return self.stages["e2e"].median / self.stages["raw"].median

    @property
    def ratio_min(self) -> float:
        """Fastest end-to-end run / fastest raw call: less sensitive to a busy machine than the medians."""
        return self.stages["e2e"].min / self.stages["raw"].min

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (summary numbers and the raw timings)."""
        return {
            "label": self.label,
            "model": self.model,
            "backend": self.backend,
            "device": self.device,
            "threads": self.threads,
            "input_hw": list(self.input_hw),
            "image_shape": list(self.image_shape),
            "runs": self.runs,
            "warmup": self.warmup,
            "task": self.task,
            "num_detections": self.num_detections,
            "e2e_over_raw": self.ratio,
            "e2e_over_raw_min": self.ratio_min,
            "stages": {k: {**t.to_dict(), "times_ms": list(t.times_ms)} for k, t in self.stages.items()},
            **({"extra": self.extra} if self.extra else {}),
        }


def synthetic_image(size: tuple[int, int] = (480, 640), seed: int = 0) -> np.ndarray:
    """A deterministic synthetic scene (BGR ``uint8``), the default benchmark image."""
    from lite.demo.scenes import make_scene

    return make_scene(np.random.default_rng(seed), size=size)[0]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, out


def benchmark(
    model: Any,
    *,
    backend: str | None = None,
    image: Any = None,
    runs: int = 100,
    warmup: int = 10,
    threads: int | None = None,
    device: str = "cpu",
    input_size: int | Sequence[int] | None = None,
    label: str | None = None,
    family: str | None = None,
    progress: bool = False,
    **detector_kw: Any,
) -> BenchResult:
    """Time every stage of the pipeline and the engine's raw call.

    Args:
        model: Model file or hub name of any task (opened with `lite.cv.ImageModel.from_file`), or an opened
            `lite.cv.Detector` / `lite.cv.Classifier` (used as is; ``backend``, ``threads``, ``device``,
            ``input_size`` and ``detector_kw`` are then ignored).
        backend: Backend name (None: from the suffix).
        image: The image (anything [`lite.data.io.load_image`][lite.data.io.load_image] takes); default a synthetic
            480x640 scene (`synthetic_image`).
        runs: Timed iterations (each runs raw, staged and end-to-end once).
        warmup: Untimed iterations first.
        threads: Engine threads (None: the engine's default).
        device: Backend device.
        input_size: Network input for dynamic-shape models.
        label: Row label in tables (default ``"<model file> [<backend>]"``).
        family: Model family (``"yolov8"``...; None: read from the file).
        progress: Show the iterations on stderr (a tqdm bar, or a line every 10 % without tqdm).
        **detector_kw: The model's options (a detector's ``conf``, ``iou``; a classifier's ``top_k``; backend
            options...).

    Returns:
        The `BenchResult`.

    Raises:
        InputError: ``runs`` < 1 or ``warmup`` < 0.
    """
    from lite.cv.image_model import ImageModel
    from lite.data.io import load_image

    if runs < 1:
        raise InputError(f"runs: expected a positive integer, got {runs}")
    if warmup < 0:
        raise InputError(f"warmup: expected 0 or more, got {warmup}")
    img = synthetic_image() if image is None else load_image(image)
    if isinstance(model, ImageModel):
        det, own = model, False
    else:
        det = ImageModel.from_file(
            model, family=family, backend=backend, device=device, threads=threads, input_size=input_size, **detector_kw
        )
        own = True
    try:
        tensor, transform = det.preprocess(img)
        raw = det.backend.raw_runner({det.input_name: tensor})
        classify = det.task == "classify"
        run = det.classify if classify else det.detect  # end to end (a segmenter's detect() builds the masks)

        def post(outs: Any, t: Any) -> list[Any]:
            return det.postprocess(outs) if classify else det.postprocess(outs, [t])

        feed = getattr(det, "_feed", det.preprocess)  # what detect() feeds (a fused backend's canvas)

        def staged() -> tuple[float, float, float, Any]:
            t_pre, (x, t) = _timed(lambda: feed(img))
            t_inf, outs = _timed(lambda: det.infer(x))
            t_post, dets = _timed(lambda: post(outs, t))
            return t_pre, t_inf, t_post, dets[0]

        name = label or f"{det.backend.model_path.name} [{det.backend.name}]"
        bar = ProgressBar(warmup + runs, f"bench {name}", enabled=progress, unit="run", fallback="lines", leave=False)
        for _ in range(warmup):
            raw()
            run(img)
            staged()
            bar.update()
        times: dict[str, list[float]] = {k: [] for k in STAGES}
        n_det = 0
        for i in range(runs):
            bar.update()
            for step in _rotation(i):
                if step == 0:
                    times["raw"].append(_timed(raw)[0])
                elif step == 1:
                    t_e2e, d = _timed(lambda: run(img))
                    times["e2e"].append(t_e2e)
                    n_det = len(d)
                else:
                    t_pre, t_inf, t_post, _ = staged()
                    times["pre"].append(t_pre)
                    times["infer"].append(t_inf)
                    times["post"].append(t_post)
        bar.close()
        path = det.backend.model_path
        return BenchResult(
            label=name,
            model=str(path),
            backend=det.backend.name,
            device=getattr(det.backend, "device", device),
            threads=getattr(det.backend, "threads", threads),
            input_hw=tuple(det.input_hw),  # type: ignore[arg-type]
            image_shape=tuple(img.shape),
            runs=runs,
            warmup=warmup,
            stages={k: Timing(k, tuple(v)) for k, v in times.items()},
            num_detections=n_det,
            task=det.task,
        )
    finally:
        if own:
            det.close()


def _rotation(i: int) -> tuple[int, int, int]:
    order = (0, 1, 2)
    k = i % 3
    return order[k:] + order[:k]  # type: ignore[return-value]


def format_table(results: Sequence[BenchResult], stages: Sequence[str] = STAGES) -> str:
    """A plain-text table: one block of rows per result, one row per stage, then e2e / raw.

    Columns: median, mean ± std, p90 (ms) and images/s.
    """
    head = f"{'model [backend]':<40} {'stage':<13} {'median':>8} {'mean ± std':>16} {'p90':>8} {'img/s':>8}"
    lines = [head, "-" * len(head)]
    for r in results:
        label = r.label if len(r.label) <= 40 else "…" + r.label[-39:]
        for i, k in enumerate(stages):
            t = r.stages[k]
            ms = f"{t.mean:.2f} ± {t.std:.2f}"
            lines.append(
                f"{label if i == 0 else '':<40} {STAGE_TITLES.get(k, k):<13} {t.median:>8.2f} {ms:>16} "
                f"{t.p90:>8.2f} {t.ips:>8.1f}"
            )
        thr = "default" if r.threads is None else str(r.threads)
        lines.append(
            f"{'':<40} {'e2e / raw':<13} {r.ratio:>7.3f}x   (HxW: input {r.input_hw[0]}x{r.input_hw[1]}, "
            f"image {r.image_shape[0]}x{r.image_shape[1]}; threads {thr}, {r.runs} runs, "
            + (f"top-{r.num_detections} classes)" if r.task == "classify" else f"{r.num_detections} detections)")
        )
        lines.append("")
    lines.append("times in ms (median, mean ± std, 90th percentile); img/s at the median")
    return "\n".join(lines)


def write_json(results: Sequence[BenchResult], path: str | Path) -> Path:
    """Write the results (summaries and raw timings) as JSON; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps([r.to_dict() for r in results], indent=1), encoding="utf-8")
    return p


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` on the Agg backend; call it before a benchmark that will plot, to fail at once.

    Raises:
        BackendNotInstalledError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise BackendNotInstalledError(
            f"plotting needs matplotlib, which is not installed ({e}); "
            "install it with: pip install 'lite-detect[plot]' (or run without --plot)"
        ) from e
    return plt


def plot(results: Sequence[BenchResult], path: str | Path, stages: Sequence[str] = STAGES) -> Path:
    """Save a grouped bar chart (median ms per stage, one bar per result, p90 as a whisker).

    Needs matplotlib (``pip install 'lite-detect[plot]'``).

    Raises:
        BackendNotInstalledError: matplotlib is not installed (`require_matplotlib`).
    """
    plt = require_matplotlib()
    if not results:
        raise InputError("plot: expected at least one benchmark result")
    x = np.arange(len(stages))
    width = 0.8 / len(results)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(stages) + 0.6 * len(results)), 4.0))
    for i, r in enumerate(results):
        med = [r.stages[k].median for k in stages]
        p90 = [r.stages[k].p90 - r.stages[k].median for k in stages]
        bars = ax.bar(x + (i - (len(results) - 1) / 2) * width, med, width, yerr=[[0] * len(stages), p90],
                      capsize=3, label=f"{r.label} ({r.ratio:.2f}x raw)")  # fmt: skip
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    ax.set_xticks(x, [STAGE_TITLES.get(k, k) for k in stages])
    ax.set_ylabel("ms (median; whisker: p90)")
    ax.set_title("lite pipeline latency by stage")
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=120)
    plt.close(fig)
    return p

"""Speed of lite against the bare engines, a tutorial-style pipeline, ultralytics and a plain folder loop.

Every subject runs in its own worker process (its own engine session, its own allocator), and
the parent interleaves them in one run: round after round, each worker times a short block of
iterations in turn, so a burst of load from elsewhere on the machine hits every subject alike.
Reported figures are medians over all rounds; ratios are taken between subjects of one run.

Suites (``--suite``, repeatable; default all):

* ``backends``: per backend (ort, ncnn, mnn; openvino when its backend is registered) and model,
  fused and unfused where it matters, in one worker each: the floor (``backend.raw_runner`` on a
  prepared float tensor: the engine's bare call on the model as written), ``detect()`` end to end,
  and the stages of what ``detect()`` does (feed, ``infer``, ``postprocess``), alternating per
  iteration on the same engine (``--split-floor`` times the floor in a process of its own).
* ``tutorial``: lite vs a plain ORT + numpy pipeline written the way tutorials do it
  (:func:`tutorial_detect`), both on the same decoded YOLOv6Lite-S file, with the floor.
* ``ultralytics``: lite vs ultralytics ``YOLO(file).predict(img)`` on the same YOLOv8n ONNX file,
  each next to its own ``session.run`` on a prepared tensor; the figure that matters is the
  ms each adds over its floor. The ultralytics worker runs in its own environment
  (``--ultra-python``, default ``/work/ultra-venv/bin/python``); lite never imports it.
* ``folder``: images per second over a folder (the 128 COCO images): ``lite detect`` (the CLI,
  in process), ``Detector.detect_stream`` and a plain loop of ``cv2.imread`` + ``detect()``,
  one full pass per block, each pass opening the model first (as the CLI does).

Usage::

    python benchmarks/bench_speed.py --threads 1 --json docs/assets/bench_speed_1thread.json
    python benchmarks/bench_speed.py --suite backends --rounds 30 --block 10
    python benchmarks/plot_speed.py --markdown docs/assets/bench_speed.png docs/assets/bench_speed_*.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
from _shared import shared_root  # noqa: E402  (benchmarks/_shared.py, beside this script)

DEFAULT_ULTRA_PYTHON = "/work/ultra-venv/bin/python"


# ================================================================================================
# subjects (run inside worker processes)
# ================================================================================================
def _clock(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def _clock2(name: str, fn: Callable[[], Any], out: dict[str, float]) -> None:
    """Wall time as ``name`` and this process's CPU time (all its threads) as ``name_cpu``, in ms.

    On a shared machine the wall clock also measures the neighbours; the CPU time does not
    (with one engine thread it is the latency an idle machine would show).
    """
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    out[name], out[name + "_cpu"] = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3


def _floor_then_detect(i: int, floor: Callable[[], Any], detect: Callable[[], Any]) -> dict[str, float]:
    """One iteration of ``floor`` and ``detect`` timed with `_clock2`, their order swapped every other iteration."""
    steps = [("floor", floor), ("detect", detect)]
    if i % 2:
        steps.reverse()
    out: dict[str, float] = {}
    for name, fn in steps:
        _clock2(name, fn, out)
    return out


class LiteSubject:
    """lite on one model and backend: floor, detect(), and the stages.

    ``role="both"`` (what the parent uses) times the floor and ``detect()`` alternately in one
    process, the floor being ``backend.raw_runner`` on a prepared float tensor of the same
    backend: the same session or net (a fused ONNX Runtime backend keeps a second, plain session
    for float tensors, whose idle thread pool can disturb the fused one with several threads).
    ``role="floor"`` / ``"detect"`` time one side only (:func:`split_floor`, to compare processes).
    """

    def __init__(self, model: str, backend: str | None, threads: int, image: str, family: str | None = None,
                 input_size: int | None = None, fuse: bool | None = None, role: str = "both",
                 options: dict[str, Any] | None = None, cv2_threads: int | None = None) -> None:  # fmt: skip
        sys.path.insert(0, str(REPO))
        import cv2

        from lite.data.io import load_image

        if cv2_threads is not None:  # OpenCV's own pool (resize) against the engine's threads
            cv2.setNumThreads(cv2_threads)
        self.img = load_image(image)
        self.role = role
        self.det = _open(model, backend, threads, family, input_size, fuse=False if role == "floor" else fuse,
                         **(options or {}))  # fmt: skip
        self.floor: Callable[[], Any] | None = None
        if role != "detect":
            # the floor: the engine's bare call on a prepared float tensor (the model as written)
            tensor, _ = self.det.preprocess(self.img)
            self.floor = self.det.backend.raw_runner({self.det.input_name: np.ascontiguousarray(tensor)})
        self.detections = len(self.det.detect(self.img))

    def _fused(self) -> bool:
        return bool(getattr(self.det, "fused", False))

    def info(self) -> dict[str, Any]:
        d = self.det
        return {"detections": self.detections, "backend": d.backend.name, "fused": self._fused(),
                "input_hw": list(d.input_hw), "family": type(d).__name__}  # fmt: skip

    def iteration(self, i: int) -> dict[str, float]:
        det, img = self.det, self.img
        out: dict[str, float] = {}

        def staged() -> None:
            t0 = time.perf_counter()
            x, t = det._feed(img) if hasattr(det, "_feed") else det.preprocess(img)
            t1 = time.perf_counter()
            y = det.infer(x)
            t2 = time.perf_counter()
            det.postprocess(y, [t])
            t3 = time.perf_counter()
            out.update(pre=(t1 - t0) * 1e3, infer=(t2 - t1) * 1e3, post=(t3 - t2) * 1e3)

        if self.role == "floor":
            assert self.floor is not None
            _clock2("floor", self.floor, out)
            return out
        steps = [("floor", self.floor), ("detect", lambda: det.detect(img)), ("staged", staged)]
        if self.role == "detect":
            steps = steps[1:]
        k = i % len(steps)
        for name, fn in steps[k:] + steps[:k]:
            if name == "staged":
                fn()
            else:
                _clock2(name, fn, out)
        return out


def _open(model: str, backend: str | None, threads: int, family: str | None, input_size: int | None,
          fuse: bool | None, **options: Any) -> Any:  # fmt: skip
    from lite.cv.detector import Detector

    kw: dict[str, Any] = {"threads": threads, **options}
    if backend:
        kw["backend"] = backend
    if input_size:
        kw["input_size"] = input_size
    if fuse is not None:
        kw["fuse_preprocess"] = fuse
    return Detector.from_file(model, family=family, **kw)


def tutorial_detect(session: Any, img: np.ndarray, size: int = 320, conf: float = 0.25, iou: float = 0.45) -> tuple:
    """A YOLOv6 (decoded export) pipeline the way ONNX Runtime tutorials write it.

    Letterbox with ``cv2.resize`` + ``cv2.copyMakeBorder``, ``cv2.cvtColor`` to RGB,
    ``astype(float32) / 255``, ``transpose`` + ``[None]`` + ``ascontiguousarray``, ``session.run``,
    then numpy: score = obj * class, argmax, threshold, cx,cy,w,h -> x,y,w,h, undo the letterbox,
    ``cv2.dnn.NMSBoxes`` (class-agnostic, as most tutorials do).
    """
    import cv2

    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, left = (size - nh) // 2, (size - nw) // 2
    padded = cv2.copyMakeBorder(resized, top, size - nh - top, left, size - nw - left, cv2.BORDER_CONSTANT,
                                value=(114, 114, 114))  # fmt: skip
    rgb = cv2.cvtColor(padded, cv2.COLOR_BGR2RGB)
    x = rgb.astype(np.float32) / 255.0
    x = np.ascontiguousarray(np.transpose(x, (2, 0, 1))[None])
    pred = session.run(None, {session.get_inputs()[0].name: x})[0][0]
    scores = pred[:, 5:] * pred[:, 4:5]
    class_ids = scores.argmax(axis=1)
    confidences = scores[np.arange(len(scores)), class_ids]
    keep = confidences > conf
    boxes, confidences, class_ids = pred[keep, :4], confidences[keep], class_ids[keep]
    xywh = np.stack([(boxes[:, 0] - boxes[:, 2] / 2 - left) / r, (boxes[:, 1] - boxes[:, 3] / 2 - top) / r,
                     boxes[:, 2] / r, boxes[:, 3] / r], axis=1)  # fmt: skip
    idx = cv2.dnn.NMSBoxes(xywh.tolist(), confidences.tolist(), conf, iou)
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    return xywh[idx], confidences[idx], class_ids[idx]


class TutorialSubject:
    """The tutorial pipeline (:func:`tutorial_detect`) next to its own session.run floor."""

    def __init__(self, model: str, threads: int, image: str) -> None:
        import cv2
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        self.img = cv2.imread(image)
        size = self.session.get_inputs()[0].shape[2]
        self.size = size if isinstance(size, int) else 640
        x = np.random.default_rng(0).random((1, 3, self.size, self.size), np.float32)
        name, s = self.session.get_inputs()[0].name, self.session
        self.floor = lambda: s.run(None, {name: x})
        self.detections = len(tutorial_detect(self.session, self.img, self.size)[0])

    def info(self) -> dict[str, Any]:
        return {"detections": self.detections}

    def iteration(self, i: int) -> dict[str, float]:
        return _floor_then_detect(i, self.floor, lambda: tutorial_detect(self.session, self.img, self.size))


class UltralyticsSubject:
    """ultralytics ``YOLO(file).predict(img)`` next to its own ``session.run`` (runs in ultralytics' venv).

    torchvision cannot be imported in that environment (its wheels do not load with the CPU
    torch), and ultralytics imports it in its warm-up; a placeholder module whose ``ops.nms`` is
    ultralytics' own pure-torch ``TorchNMS.nms`` stands in, which is what ultralytics runs without it.
    Its ONNX Runtime session is rebuilt with lite's settings (``threads`` intra-op threads, one
    inter-op thread) so both pipelines sit on the same engine configuration.
    """

    def __init__(self, model: str, threads: int, image: str) -> None:
        import types

        import cv2
        import torch

        torch.set_num_threads(threads)
        from ultralytics import YOLO
        from ultralytics.utils.nms import TorchNMS

        stub = types.ModuleType("torchvision")
        stub.ops = types.SimpleNamespace(nms=TorchNMS.nms)  # type: ignore[attr-defined]
        sys.modules.setdefault("torchvision", stub)
        self.img = cv2.imread(image)
        self.model = YOLO(model, task="detect")
        res = self.model.predict(self.img, verbose=False)
        self.detections = len(res[0].boxes)
        holder = _find_session(self.model.predictor.model)
        session = holder.session
        if threads:  # the same engine settings as lite's session: intra-op threads, one inter-op thread
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
            session = holder.session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
            self.threads_check = session.get_session_options().intra_op_num_threads
            res = self.model.predict(self.img, verbose=False)
            self.detections = len(res[0].boxes)
        inp = session.get_inputs()[0]
        x = np.random.default_rng(0).random((1, 3, *inp.shape[2:]), np.float32)
        names = [o.name for o in session.get_outputs()]
        self.floor = lambda: session.run(names, {inp.name: x})

    def info(self) -> dict[str, Any]:
        import ultralytics

        return {"detections": self.detections, "ultralytics": ultralytics.__version__}

    def iteration(self, i: int) -> dict[str, float]:
        return _floor_then_detect(i, self.floor, lambda: self.model.predict(self.img, verbose=False))


def _find_session(obj: Any, depth: int = 0) -> Any:
    """The object holding the onnxruntime InferenceSession (``.session``) inside ultralytics' AutoBackend."""
    if depth > 3 or obj is None:
        return None
    for name in ("backend", "model"):  # the innermost holder: AutoBackend forwards attributes to its backend
        found = _find_session(getattr(obj, name, None), depth + 1)
        if found is not None:
            return found
    if "session" in vars(obj) and type(obj.session).__name__ == "InferenceSession":
        return obj
    if depth == 0:
        raise RuntimeError("could not find ultralytics' ONNX Runtime session")
    return None


class FolderSubject:
    """One pass over a folder per iteration, in one of three modes (``cli``, ``stream``, ``loop``)."""

    def __init__(self, model: str, threads: int, folder: str, mode: str, family: str | None = None) -> None:
        sys.path.insert(0, str(REPO))
        import cv2

        from lite.cli.detect import _images_in

        self.model, self.threads, self.folder, self.mode, self.family = model, threads, folder, mode, family
        self.paths = [str(p) for p in _images_in(Path(folder))]
        self.imread = cv2.imread
        self.iteration(0)  # warm

    def info(self) -> dict[str, Any]:
        return {"images": len(self.paths), "mode": self.mode}

    def _loop(self) -> None:
        imread = self.imread
        with _open(self.model, None, self.threads, self.family, None, fuse=None) as det:
            for p in self.paths:
                det.detect(imread(p))

    def _stream(self) -> None:
        with _open(self.model, None, self.threads, self.family, None, fuse=None) as det:
            for _ in det.detect_stream(self.paths):
                pass

    def iteration(self, i: int) -> dict[str, float]:
        if self.mode == "loop":
            ms = _clock(self._loop)
        elif self.mode == "stream":
            ms = _clock(self._stream)
        else:
            from lite.cli import main as cli_main

            argv = ["detect", self.folder, "--model", self.model, "--threads", str(self.threads), "--no-progress"]
            if self.family and _cli_has_family():
                argv += ["--family", self.family]
            with contextlib.redirect_stdout(io.StringIO()):
                ms = _clock(lambda: cli_main(argv))
        return {"pass": ms, "ips": len(self.paths) / ms * 1e3}


def _cli_has_family() -> bool:
    from lite.cli import _common

    return "family" in (getattr(_common, "__doc__", "") or "") or hasattr(_common, "add_family_argument")


SUBJECTS = {"lite": LiteSubject, "tutorial": TutorialSubject, "ultralytics": UltralyticsSubject,
            "folder": FolderSubject}  # fmt: skip


def worker_main(kind: str, params: str) -> int:
    """Worker loop: build the subject, say ready, then time ``N`` iterations per request line."""
    out = os.fdopen(os.dup(1), "w")  # the protocol channel
    os.dup2(2, 1)  # anything the engines print (C code included) goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    try:
        subject = SUBJECTS[kind](**json.loads(params))
        out.write(json.dumps({"ready": subject.info()}) + "\n")
    except Exception as e:  # noqa: BLE001 - reported to the parent, which skips the subject
        out.write(json.dumps({"error": f"{type(e).__name__}: {e}"}) + "\n")
        out.flush()
        return 1
    out.flush()
    i = 0
    for line in sys.stdin:
        n = int(line)
        if n <= 0:
            break
        block = []
        for _ in range(n):
            block.append(subject.iteration(i))
            i += 1
        out.write(json.dumps(block) + "\n")
        out.flush()
    return 0


# ================================================================================================
# the parent: start workers, interleave blocks, summarise
# ================================================================================================
class Worker:
    """A subject in its own process."""

    def __init__(self, label: str, kind: str, params: dict[str, Any], python: str = sys.executable,
                 group: str = "") -> None:  # fmt: skip
        self.label, self.kind, self.params, self.group = label, kind, params, group
        env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS=str(params.get("threads", 2)))
        env.setdefault("YOLO_OFFLINE", "1")
        self.proc = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "--worker", kind, json.dumps(params)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            cwd=str(REPO),
        )  # fmt: skip
        self.info: dict[str, Any] = {}
        self.error: str | None = None
        self.samples: list[dict[str, float]] = []

    def wait_ready(self) -> bool:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        msg = json.loads(line) if line.strip() else {"error": "worker exited before it was ready"}
        self.info, self.error = msg.get("ready", {}), msg.get("error")
        return self.error is None

    def run(self, n: int) -> None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.label} died")
        self.samples += json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.write("0\n")  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def median(self, key: str) -> float:
        vals = [s[key] for s in self.samples if key in s]
        return float(np.median(vals)) if vals else float("nan")

    def p90(self, key: str) -> float:
        vals = [s[key] for s in self.samples if key in s]
        return float(np.percentile(vals, 90)) if vals else float("nan")


def interleave(workers: list[Worker], rounds: int, block: int, warm_blocks: int = 1) -> None:
    """Round-robin blocks over the workers (order rotating per round); the first blocks are discarded."""
    for w in workers:
        for _ in range(warm_blocks):
            w.run(block)
        w.samples.clear()
    for r in range(rounds):
        k = r % len(workers)
        for w in workers[k:] + workers[:k]:
            w.run(block)
        print(f"  round {r + 1}/{rounds}", file=sys.stderr, end="\r", flush=True)
    print(file=sys.stderr)


def start(specs: list[tuple[str, str, dict[str, Any], str, str]]) -> list[Worker]:
    """Start workers (one at a time, so loading does not overlap), keep the ones that load."""
    ready = []
    for label, kind, params, python, group in specs:
        w = Worker(label, kind, params, python, group)
        if w.wait_ready():
            ready.append(w)
            print(f"  ready: {label} {w.info}", file=sys.stderr, flush=True)
        else:
            print(f"  skipped: {label}: {w.error}", file=sys.stderr, flush=True)
            w.close()
    return ready


def _backend_specs(shared: Path, args: argparse.Namespace, tmp: Path) -> list[tuple]:
    onnx = shared / "models" / "yolov6lite" / "onnx"
    ncnn = shared / "models" / "yolov6lite" / "ncnn"
    img = str(shared / "images" / "bus.jpg")
    specs = []
    for m in args.models:
        raw = onnx / f"yolov6lite_{m}_320_raw.onnx"
        tag = f"Lite-{m.upper()} 320"
        specs.append((f"{tag} ort raw", "lite", {"model": str(raw), "backend": "ort", "threads": args.threads,
                                                "image": img}, sys.executable, tag))  # fmt: skip
        specs.append((f"{tag} ort decoded", "lite", {"model": str(onnx / f"yolov6lite_{m}_320_decoded.onnx"),
                      "backend": "ort", "threads": args.threads, "image": img}, sys.executable, tag))  # fmt: skip
        specs.append((f"{tag} ort decoded fused", "lite", {"model": str(onnx / f"yolov6lite_{m}_320_decoded.onnx"),
                      "backend": "ort", "threads": args.threads, "image": img, "fuse": True}, sys.executable,
                      tag))  # fmt: skip
        for fuse in (True, False):
            specs.append((f"{tag} ncnn" + ("" if fuse else " unfused"), "lite", {
                "model": str(ncnn / f"yolov6-lite-{m}.param"), "backend": "ncnn", "threads": args.threads,
                "image": img, "input_size": 320, "fuse": fuse}, sys.executable, tag))  # fmt: skip
        mnn_path = _mnn_model(raw, tmp)
        if mnn_path is not None:
            specs.append((f"{tag} mnn", "lite", {"model": str(mnn_path), "backend": "mnn", "threads": args.threads,
                                                "image": img}, sys.executable, tag))  # fmt: skip
        if _has_backend("openvino"):
            specs.append((f"{tag} openvino", "lite", {"model": str(raw), "backend": "openvino",
                          "threads": args.threads, "image": img}, sys.executable, tag))  # fmt: skip
    v8 = shared / "models" / "foreign" / "yolov8" / "yolov8n_int8.onnx"
    specs.append(("YOLOv8n int8 640 ort", "lite", {"model": str(v8), "backend": "ort", "threads": args.threads,
                  "image": img, "family": "yolov8"}, sys.executable, "YOLOv8n 640"))  # fmt: skip
    return specs


def _has_backend(name: str) -> bool:
    sys.path.insert(0, str(REPO))
    from lite import backends

    return name in backends.available()


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _mnn_model(onnx_path: Path, tmp: Path) -> Path | None:
    if not _has("MNN"):
        return None
    sys.path.insert(0, str(REPO))
    from lite.convert import onnx_to_mnn

    out = tmp / (onnx_path.stem + ".mnn")
    if not out.exists():
        with contextlib.redirect_stdout(io.StringIO()):
            onnx_to_mnn(onnx_path, out, progress=False)
    return out


FLOOR_TAG = " [floor process]"


def split_floor(specs: list[tuple]) -> list[tuple]:
    """Each lite subject as two processes: its floor alone and its detect() alone."""
    out = []
    for label, kind, params, python, group in specs:
        if kind == "lite":
            out.append((label + FLOOR_TAG, kind, {**params, "role": "floor"}, python, group))
            out.append((label, kind, {**params, "role": "detect"}, python, group))
        else:
            out.append((label, kind, params, python, group))
    return out


def merge_floor(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put each floor process's figures into its detect() row (ratios across the two processes)."""
    floors = {r["label"][: -len(FLOOR_TAG)]: r for r in rows if r["label"].endswith(FLOOR_TAG)}
    out = []
    for r in rows:
        if r["label"].endswith(FLOOR_TAG):
            continue
        f = floors.get(r["label"])
        if f is not None:
            for key in ("floor", "floor_p90", "floor_cpu", "floor_cpu_p90"):
                r[key] = f[key]
            r["floor_process"] = "separate"
            r["ratio"], r["over_ms"] = r["detect"] / r["floor"], r["detect"] - r["floor"]
            r["ratio_cpu"], r["over_cpu_ms"] = r["detect_cpu"] / r["floor_cpu"], r["detect_cpu"] - r["floor_cpu"]
        out.append(r)
    return out


def summarise(workers: list[Worker], suite: str) -> list[dict[str, Any]]:
    rows = []
    for w in workers:
        row: dict[str, Any] = {"suite": suite, "label": w.label, "group": w.group, "info": w.info,
                               "iterations": len(w.samples)}  # fmt: skip
        for key in sorted({k for s in w.samples for k in s}):
            row[key] = w.median(key)
            row[key + "_p90"] = w.p90(key)
        if "floor" in row and "detect" in row:
            row["ratio"] = row["detect"] / row["floor"]
            row["over_ms"] = row["detect"] - row["floor"]
        if "floor_cpu" in row and "detect_cpu" in row:
            row["ratio_cpu"] = row["detect_cpu"] / row["floor_cpu"]
            row["over_cpu_ms"] = row["detect_cpu"] - row["floor_cpu"]
        rows.append(row)
    return rows


def print_backends(rows: list[dict[str, Any]]) -> None:
    head = (f"{'subject':<26} {'floor':>7} {'detect':>7} {'ratio':>6} {'over':>6} {'pre':>6} {'infer':>7} "
            f"{'post':>6} {'p90 det':>8} | {'cpu fl':>7} {'cpu det':>7} {'ratio':>6} {'over':>6} | "
            f"{'dets':>5} fused")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['label']:<26} {r['floor']:>7.2f} {r['detect']:>7.2f} {r['ratio']:>6.3f} {r['over_ms']:>6.2f} "
              f"{r.get('pre', float('nan')):>6.2f} {r.get('infer', float('nan')):>7.2f} "
              f"{r.get('post', float('nan')):>6.2f} {r['detect_p90']:>8.2f} | {r['floor_cpu']:>7.2f} "
              f"{r['detect_cpu']:>7.2f} {r['ratio_cpu']:>6.3f} {r['over_cpu_ms']:>6.2f} | "
              f"{r['info'].get('detections', '?'):>5} {r['info'].get('fused', '')}")  # fmt: skip


def print_pairs(rows: list[dict[str, Any]]) -> None:
    head = (f"{'subject':<34} {'floor ms':>9} {'end-to-end':>11} {'adds ms':>8} {'ratio':>6} | {'cpu floor':>9} "
            f"{'cpu e2e':>8} {'cpu adds':>8} | {'dets':>5}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['label']:<34} {r['floor']:>9.2f} {r['detect']:>11.2f} {r['over_ms']:>8.2f} {r['ratio']:>6.3f} | "
              f"{r['floor_cpu']:>9.2f} {r['detect_cpu']:>8.2f} {r['over_cpu_ms']:>8.2f} | "
              f"{r['info'].get('detections', '?'):>5}")  # fmt: skip


def print_folder(rows: list[dict[str, Any]]) -> None:
    base = next((r for r in rows if r["info"].get("mode") == "loop"), None)
    head = f"{'subject':<40} {'pass s':>7} {'images/s':>9} {'x loop':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        x = base["pass"] / r["pass"] if base else float("nan")
        print(f"{r['label']:<40} {r['pass'] / 1e3:>7.3f} {r['ips']:>9.1f} {x:>7.3f}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main(argv[1], argv[2])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", action="append", choices=["backends", "tutorial", "ultralytics", "folder"])
    ap.add_argument("--models", nargs="+", default=["s"], choices=["s", "m", "l"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=20, help="interleaving rounds")
    ap.add_argument("--block", type=int, default=10, help="iterations per worker per round")
    ap.add_argument("--folder-rounds", type=int, default=5)
    ap.add_argument("--ultra-python", default=DEFAULT_ULTRA_PYTHON)
    ap.add_argument("--split-floor", action="store_true",
                    help="time each lite floor in its own process (default: alternating in the detector's process)")
    ap.add_argument("--shared", default=None)
    ap.add_argument("--json", default=None, help="write all rows here")
    args = ap.parse_args(argv)
    suites = args.suite or ["backends", "tutorial", "ultralytics", "folder"]
    shared = shared_root(args.shared)
    img = str(shared / "images" / "bus.jpg")
    decoded_s = str(shared / "models" / "yolov6lite" / "onnx" / "yolov6lite_s_320_decoded.onnx")
    v8 = str(shared / "models" / "foreign" / "yolov8" / "yolov8n_int8.onnx")
    th = args.threads
    la = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (f"# {platform.machine()} {os.cpu_count()} CPUs, load average {la:.1f} at start, threads={th}, "
              f"rounds={args.rounds} x block={args.block}, python {platform.python_version()}")  # fmt: skip
    print(header)
    all_rows: list[dict[str, Any]] = []
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lite-bench-") as tmp:
        plan: list[tuple[str, list[tuple], int, int]] = []
        if "backends" in suites:
            plan.append(("backends", _backend_specs(shared, args, Path(tmp)), args.rounds, args.block))
        if "tutorial" in suites:
            plan.append(("tutorial", [
                ("lite YOLOv6Lite-S decoded", "lite", {"model": decoded_s, "backend": "ort", "threads": th,
                                                       "image": img}, sys.executable, "tutorial"),
                ("tutorial ORT+numpy", "tutorial", {"model": decoded_s, "threads": th, "image": img},
                 sys.executable, "tutorial"),
            ], args.rounds, args.block))  # fmt: skip
        if "ultralytics" in suites:
            specs = [("lite YOLOv8n int8", "lite", {"model": v8, "backend": "ort", "threads": th, "image": img,
                                                    "family": "yolov8"}, sys.executable, "yolov8")]  # fmt: skip
            if Path(args.ultra_python).exists():
                specs.append(("ultralytics YOLOv8n int8", "ultralytics", {"model": v8, "threads": th, "image": img},
                              args.ultra_python, "yolov8"))  # fmt: skip
            plan.append(("ultralytics", specs, max(args.rounds // 2, 3), max(args.block // 2, 2)))
        if "folder" in suites:
            folder = str(shared / "coco" / "val2017_128" / "images")
            specs = [(f"{mode} ({label})", "folder", {"model": decoded_s, "threads": th, "folder": folder,
                                                     "mode": mode}, sys.executable, "folder")
                     for mode, label in (("loop", "cv2.imread + detect()"), ("stream", "detect_stream"),
                                         ("cli", "lite detect"))]  # fmt: skip
            plan.append(("folder", specs, args.folder_rounds, 1))
        for suite, specs, rounds, block in plan:
            print(f"\n## {suite}", flush=True)
            if args.split_floor:
                specs = split_floor(specs)
            workers = start(specs)
            try:
                interleave(workers, rounds, block)
            finally:
                for w in workers:
                    w.close()
            rows = merge_floor(summarise(workers, suite))
            all_rows += rows
            {"backends": print_backends, "folder": print_folder}.get(suite, print_pairs)(rows)
            if suite == "ultralytics" and len(rows) == 2 and "over_ms" in rows[0]:
                for key, what in (("over_ms", "wall"), ("over_cpu_ms", "CPU")):
                    lite_add, ul_add = rows[0][key], rows[1][key]
                    print(f"{what}: lite adds {lite_add:.2f} ms, ultralytics adds {ul_add:.2f} ms over session.run: "
                          f"{lite_add / ul_add:.2f} of ultralytics' (target <= 0.5)")  # fmt: skip
    if args.json:
        p = Path(args.json)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"header": header, "rows": all_rows}, indent=1), encoding="utf-8")
        print(f"\nwrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

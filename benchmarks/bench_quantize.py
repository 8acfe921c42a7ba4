"""int8 on this CPU: ``lite quantize`` run on every fp32 ONNX detector of the shared assets, one table.

Each subject is one ``lite quantize`` command (a child process, run one after the other: quantization is heavy),
calibrated on ``coco/train2017_128_segm/images`` and evaluated on ``coco/val2017_128`` (different images); the
figures are read back from the sidecar record the command writes (``extra.quantization``): the median bare call of
the fp32 ONNX on ONNX Runtime, of the fp32 model on the int8 model's engine and of the int8 model (the three
alternated call by call inside the command), and both COCO APs. Without ``--depth`` the command picks the smallest
float tail that keeps the AP within ``--max-drop``.

Usage::

    python benchmarks/bench_quantize.py                               # every model, OpenVINO, depth searched
    python benchmarks/bench_quantize.py --models yolov8n --to openvino ort --depth 0 1 2
    python benchmarks/bench_quantize.py --models lite-s yolox-nano --json quantize.json

The machine may be shared: keep ``--threads 1`` (the default) and read ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
from _shared import shared_root  # noqa: E402  (benchmarks/_shared.py, beside this script)

#: Short name → fp32 ONNX file under the shared models folder.
MODELS = {
    "yolov8n": "foreign/yolov8/yolov8n_fp32_from_int8.onnx",
    "lite-s": "yolov6lite/onnx/yolov6lite_s_320_decoded.onnx",
    "lite-m": "yolov6lite/onnx/yolov6lite_m_320_decoded.onnx",
    "lite-l": "yolov6lite/onnx/yolov6lite_l_320_decoded.onnx",
    "yolox-nano": "foreign/yolox/yolox_nano_416.onnx",
    # lite quantize does not apply to these (each row then shows the command's refusal): NanoDet's only files are
    # NCNN, and YOLOv5n's only file is already int8 (ONNX Runtime dynamic quantization)
    "nanodet-plus": "foreign/nanodet_plus/nanodet-plus-m_416.param",
    "nanodet-m": "foreign/nanodet/nanodet-m.param",
    "yolov5n": "foreign/yolov5/yolov5n_int8_640.onnx",
}


def run_one(model: Path, to: str, depth: int | None, args: argparse.Namespace, out: Path) -> dict:
    """One ``lite quantize`` command; its sidecar record (or the error it printed)."""
    coco = args.shared / "coco"
    cmd = [
        sys.executable, "-m", "lite", "quantize", str(model), "--calib", str(coco / "train2017_128_segm" / "images"),
        "--to", to, "-o", str(out), "--force", "--quiet", "--threads", str(args.threads), "--calls", str(args.calls),
        "--images", str(args.images), "--max-drop", str(args.max_drop),
        "--eval", str(coco / "val2017_128" / "images"), str(coco / "val2017_128" / "instances.json"),
    ]  # fmt: skip
    if depth is not None:
        cmd += ["--depth", str(depth)]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    print(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr.strip().splitlines()[-1] if proc.returncode else ''}",
          file=sys.stderr)  # fmt: skip
    if proc.returncode:
        last = proc.stderr.strip().splitlines()[-1]
        return {"error": last.removeprefix("lite quantize: error: "), "seconds": seconds}
    path = Path(proc.stdout.strip().splitlines()[-1])
    side = json.loads(Path(str(path) + ".lite.json").read_text())
    return {**json.loads(side["extra"]["quantization"]), "seconds": seconds}


def row(name: str, to: str, rec: dict) -> str:
    if "error" in rec:
        return f"| {name} | {to} | - | - | - | - | - | - | - | - | {rec['error'][:160]} |"
    ap = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    verdict = "int8 pays" if rec["pays"] else "keep fp32"
    return (
        f"| {name} | {to} | {rec['depth']} ({len(rec['float_layers'])}) | {rec['ort_fp32_ms']:.1f} | "
        f"{rec['fp32_ms']:.1f} | {rec['int8_ms']:.1f} | {rec['speedup']:.2f} | {rec['speedup_vs_ort']:.2f} | "
        f"{ap(rec['fp32_ap'])} | {ap(rec['int8_ap'])} | {verdict} |"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--to", nargs="+", default=["openvino"], choices=["openvino", "ort"])
    p.add_argument("--depth", nargs="+", type=int, default=[None], help="fixed float tail depths (default: searched)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--calls", type=int, default=40)
    p.add_argument("--images", type=int, default=128, help="calibration images")
    p.add_argument("--max-drop", type=float, default=0.01)
    p.add_argument("--shared", type=Path, default=None)
    p.add_argument("--json", type=Path, default=None, help="write the records here")
    args = p.parse_args(argv)
    args.shared = shared_root(args.shared)
    records = []
    with tempfile.TemporaryDirectory(prefix="bench-quantize-") as tmp:
        for name in args.models:
            for to in args.to:
                for depth in args.depth:
                    rec = run_one(args.shared / "models" / MODELS[name], to, depth, args, Path(tmp))
                    records.append({"model": name, "to": to, **rec})
    print(f"\n{args.threads} thread(s), calibration {args.images} images of train2017_128_segm, AP on val2017_128\n")
    print("| model | int8 engine | float tail depth (float layers) | ORT fp32 ms | fp32 ms (same engine) | int8 ms | "
          "× fp32 | × ORT fp32 | AP fp32 | AP int8 | verdict |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for rec in records:
        print(row(rec["model"], rec["to"], rec))
    if args.json:
        args.json.write_text(json.dumps(records, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train lite's demo shape detector on CPU, evaluate it, export it to ONNX and record the run.

Scenes are generated on the fly (``lite.demo.scenes``), letterboxed to 320x320 the way lite
feeds images, and the batch for step ``k`` of epoch ``e`` depends only on ``(seed, e, k)``.
The learning rate follows a cosine over ``max(step / total_steps, elapsed / budget)`` so a
run finishes its schedule within ``--minutes`` even on a slow machine.

Example:
    python examples/demo_training/train_demo_detector.py --minutes 20 --export hub/lite-demo-shapes.onnx
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

# Before torch starts OpenMP: spinning worker threads slow training ~5x when the CPU is shared.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

if __package__ in (None, "") and not any((Path(p) / "lite").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # demo_detector.py, beside this script

from demo_detector import (  # noqa: E402
    DemoConfig,
    DemoDetector,
    DetectionLoss,
    ModelEMA,
    count_parameters,
    export_onnx,
    letterbox,
    save_checkpoint,
    sha256_file,
)

from lite.demo.scenes import SHAPE_NAMES, make_scene, write_dataset  # noqa: E402

# Scene sizes drawn for training: mostly 320x320, some non-square or larger/smaller ones letterboxed to 320.
OTHER_SIZES = [(240, 320), (320, 240), (256, 320), (320, 256), (192, 320), (320, 192), (288, 384), (384, 288),
               (360, 480), (480, 360), (400, 400), (256, 256)]  # fmt: skip


# --------------------------------------------------------------------------- data
class SceneBatches(torch.utils.data.Dataset):
    """Map-style dataset whose item ``k`` is a whole batch generated from ``(seed, epoch, k)``.

    Each batch picks a canvas: ``img_size`` (scenes of various shapes letterboxed to it, as
    lite feeds images) or a smaller square canvas from ``small`` whose scenes are drawn at that
    size directly. Objects keep their pixel scale on small canvases, so they teach the same
    detector at a fraction of the compute.

    Args:
        seed: Base seed.
        epoch: Epoch number (mixed into the seed).
        n_batches: Batches per epoch.
        batch_size: Images per batch.
        img_size: Letterboxed input size.
        small: Smaller square canvas sizes (multiples of 32).
        small_frac: Fraction of batches drawn on a small canvas.
        square_frac: Fraction of ``img_size`` scenes that are square; the rest use :data:`OTHER_SIZES`.
    """

    def __init__(
        self,
        seed: int,
        epoch: int,
        n_batches: int,
        batch_size: int,
        img_size: int = 320,
        small: tuple[int, ...] = (192, 256),
        small_frac: float = 0.5,
        square_frac: float = 0.7,
    ) -> None:
        self.seed, self.epoch, self.n, self.bs = seed, epoch, n_batches, batch_size
        self.img_size, self.small, self.small_frac, self.square_frac = img_size, small, small_frac, square_frac

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        rng = np.random.default_rng([self.seed, self.epoch, k])
        canvas = self.img_size
        if self.small and rng.random() < self.small_frac:
            canvas = int(self.small[int(rng.integers(len(self.small)))])
        images, targets = [], []
        for _ in range(self.bs):
            if canvas != self.img_size or rng.random() < self.square_frac:
                size = (canvas, canvas)
            else:
                size = OTHER_SIZES[int(rng.integers(len(OTHER_SIZES)))]
            img, boxes, ids = make_scene(rng, size)
            img, r, (px, py) = letterbox(img, canvas)
            boxes = boxes * r + np.array([px, py, px, py], dtype=np.float32)
            images.append(img[..., ::-1])  # BGR -> RGB
            targets.append((torch.from_numpy(boxes.astype(np.float32)), torch.from_numpy(ids)))
        x = torch.from_numpy(np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))).float().div_(255.0)
        return x, targets


def _worker_init(_: int) -> None:
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def batches(args: argparse.Namespace, epoch: int, n_batches: int) -> torch.utils.data.DataLoader:
    """A loader over one epoch of generated batches (``--workers`` processes generate ahead)."""
    small = tuple(int(v) for v in args.small.split(",") if v) if args.small else ()
    ds = SceneBatches(args.seed, epoch, n_batches, args.batch, args.img_size, small, args.small_frac)
    return torch.utils.data.DataLoader(
        ds,
        batch_size=None,
        shuffle=False,
        num_workers=args.workers,
        worker_init_fn=_worker_init if args.workers else None,
        prefetch_factor=4 if args.workers else None,
        persistent_workers=False,
    )


# --------------------------------------------------------------------------- evaluation
def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy NMS; returns kept indices in descending score order."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        ov = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[ov <= iou]
    return np.asarray(keep, dtype=np.int64)


def postprocess(
    pred: np.ndarray, conf: float = 0.03, iou: float = 0.65, max_det: int = 300, multi_label: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decoded ``(N, 5 + nc)`` rows -> ``(boxes xyxy, scores, class ids)`` after class-aware NMS.

    Single-label keeps the best class of each anchor; multi-label keeps every (anchor, class)
    pair above ``conf`` (``lite eval``'s default).
    """
    scores_all = pred[:, 5:] * pred[:, 4:5]
    if multi_label:
        rows, cls = np.nonzero(scores_all > conf)
        cxcywh, score = pred[rows, :4], scores_all[rows, cls]
    else:
        cls = scores_all.argmax(1)
        score = scores_all[np.arange(len(cls)), cls]
        keep = score > conf
        cxcywh, score, cls = pred[keep, :4], score[keep], cls[keep]
    if len(score) > 3000:
        top = np.argsort(-score)[:3000]
        cxcywh, score, cls = cxcywh[top], score[top], cls[top]
    boxes = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1)
    k = nms(boxes + cls[:, None] * 4096.0, score, iou)[:max_det]
    return boxes[k], score[k], cls[k]


@torch.no_grad()
def evaluate(
    model: DemoDetector,
    ann_file: Path,
    img_size: int = 320,
    conf: float = 0.03,
    iou: float = 0.65,
    max_det: int = 300,
    multi_label: bool = False,
) -> tuple[float, float]:
    """COCO AP50 and AP (pycocotools) of ``model`` (decoded layout) on a written scene dataset."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(sys.stderr):
        gt = COCO(str(ann_file))
    model = model.eval()
    layout, model.export_layout = model.export_layout, "decoded"
    results = []
    try:
        for img_id in gt.getImgIds():
            info = gt.loadImgs(img_id)[0]
            img = cv2.imread(str(ann_file.parent / "images" / info["file_name"]))
            lb, r, (px, py) = letterbox(img, img_size)
            x = torch.from_numpy(np.ascontiguousarray(lb[..., ::-1].transpose(2, 0, 1)))[None].float() / 255.0
            pred = model(x)[0].numpy()
            boxes, scores, cls = postprocess(pred, conf, iou, max_det, multi_label)
            boxes = (boxes - np.array([px, py, px, py])) / r
            boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, info["width"])
            boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, info["height"])
            for b, s, c in zip(boxes.tolist(), scores.tolist(), cls.tolist(), strict=True):
                xywh = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
                results.append({"image_id": img_id, "category_id": c + 1, "bbox": xywh, "score": s})
    finally:
        model.export_layout = layout
    if not results:
        return 0.0, 0.0
    with contextlib.redirect_stdout(sys.stderr):
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[1]), float(ev.stats[0])


# --------------------------------------------------------------------------- training
def build_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW with no decay on biases and BatchNorm parameters."""
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


def lr_at(progress: float, step: int, base: float, warmup: int, final_frac: float = 0.02) -> float:
    """Linear warm-up for ``warmup`` steps, then cosine from ``base`` to ``final_frac * base``."""
    cos = final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return base * cos * min(1.0, (step + 1) / warmup)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=36, help="epochs (each --train-images fresh scenes)")
    ap.add_argument("--minutes", type=float, default=28.0, help="wall-clock training budget (the LR schedule fits it)")
    ap.add_argument("--train-images", type=int, default=1024, help="scenes generated per epoch")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-seed", type=int, default=12345)
    ap.add_argument("--val-images", type=int, default=200)
    ap.add_argument("--img-size", type=int, default=320)
    ap.add_argument("--small", default="192,256", help="small square canvases, comma-separated")
    ap.add_argument("--small-frac", type=float, default=0.5, help="fraction of batches on a small canvas")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--neck", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1, help="scene-generating processes (0: in the main process)")
    ap.add_argument("--eval-every", type=int, default=0, help="evaluate every N epochs (0: only at the end)")
    ap.add_argument("--out", type=Path, default=Path("runs/demo"))
    ap.add_argument("--export", type=Path, default=None, help="write the decoded ONNX here (and a .json record)")
    ap.add_argument("--log-every", type=int, default=20)
    return ap.parse_args(argv)


def ort_parity(model: DemoDetector, onnx_path: Path, img_size: int, seed: int) -> float:
    """Max abs difference between PyTorch (decoded) and onnxruntime on one generated scene."""
    import onnxruntime as ort

    img, _, _ = make_scene(np.random.default_rng(seed), (img_size, img_size))
    lb, _, _ = letterbox(img, img_size)
    x = np.ascontiguousarray(lb[..., ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255.0
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    y_ort = sess.run(["outputs"], {"images": x})[0]
    model.export_layout = "decoded"
    with torch.no_grad():
        y_pt = model.eval()(torch.from_numpy(x)).numpy()
    return float(np.abs(y_ort - y_pt).max())


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate, export; returns a process exit code."""
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    cmd = "python " + " ".join(shlex.quote(a) for a in ([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])))

    ann = args.out / f"val{args.val_seed}" / "instances.json"
    if not ann.exists():
        ann = write_dataset(ann.parent, args.val_images, args.val_seed, (args.img_size, args.img_size))

    cfg = DemoConfig(nc=len(SHAPE_NAMES), names=list(SHAPE_NAMES), width=args.width, depth=args.depth, neck=args.neck)
    model = DemoDetector(cfg).train()
    model = model.to(memory_format=torch.channels_last)
    n_params = count_parameters(model)
    print(f"params {n_params}  config {cfg}", flush=True)
    ema = ModelEMA(model, decay=0.999, tau=300)
    opt = build_optimizer(model, args.lr, args.weight_decay)
    crit = DetectionLoss(cfg.nc)

    per_epoch = max(1, args.train_images // args.batch)
    total = per_epoch * args.epochs
    budget = args.minutes * 60.0
    warmup = min(200, max(1, total // 10))
    t0 = time.time()
    step, epochs_done, stop = 0, 0, False
    for epoch in range(args.epochs):
        for x, targets in batches(args, epoch, per_epoch):
            elapsed = time.time() - t0
            progress = max(step / total, elapsed / budget)
            if progress >= 1.0:
                stop = True
                break
            lr = lr_at(progress, step, args.lr, warmup)
            for g in opt.param_groups:
                g["lr"] = lr
            out = model(x.contiguous(memory_format=torch.channels_last))
            loss, parts = crit(out, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            ema.update(model)
            step += 1
            if step % args.log_every == 0:
                rate = step * args.batch / (time.time() - t0)
                print(
                    f"ep {epoch} step {step}/{total} loss {float(loss.detach()):.3f} box {parts['box']:.3f} "
                    f"cls {parts['cls']:.3f} fg/img {parts['fg']:.1f} lr {lr:.2e} "
                    f"{rate:.1f} img/s {elapsed / 60:.1f} min",
                    flush=True,
                )
        if stop:
            break
        epochs_done = epoch + 1
        if args.eval_every and epochs_done % args.eval_every == 0 and epochs_done < args.epochs:
            ap50, ap = evaluate(ema.ema, ann, args.img_size)
            print(f"epoch {epochs_done}: val AP50 {ap50:.4f} AP {ap:.4f}", flush=True)
    train_s = time.time() - t0
    print(f"trained {step} steps ({step * args.batch} images, {epochs_done} full epochs) in {train_s / 60:.1f} min")

    final = ema.ema.eval().to(memory_format=torch.contiguous_format)
    ap50, ap = evaluate(final, ann, args.img_size)
    print(f"val ({args.val_images} scenes, seed {args.val_seed}): AP50 {ap50:.4f}  AP {ap:.4f}", flush=True)
    ml50, ml = evaluate(final, ann, args.img_size, multi_label=True)
    print(f"val multi-label (lite eval's default): AP50 {ml50:.4f}  AP {ml:.4f}", flush=True)
    ckpt = save_checkpoint(final, args.out / "last.pt", {"ap50": ap50, "ap": ap, "steps": step, "command": cmd})
    print(f"checkpoint {ckpt}")

    if args.export is not None:
        onnx_path = export_onnx(final, args.export, layout="decoded", img_size=args.img_size)
        diff = ort_parity(final, onnx_path, args.img_size, args.val_seed + 1)
        size = onnx_path.stat().st_size
        n_anchors = sum((args.img_size // s) ** 2 for s in (8, 16, 32))
        record = {
            "model": "lite-demo-shapes",
            "file": onnx_path.name,
            "sha256": sha256_file(onnx_path),
            "onnx_bytes": size,
            "layout": "decoded",
            "input": {"name": "images", "shape": [1, 3, args.img_size, args.img_size], "format": "RGB/255 letterbox"},
            "output": {"name": "outputs", "shape": [1, n_anchors, 5 + cfg.nc]},
            "names": list(SHAPE_NAMES),
            "parameters": n_params,
            "command": cmd,
            "seed": args.seed,
            "epochs": args.epochs,
            "epochs_completed": epochs_done,
            "steps": step,
            "images_seen": step * args.batch,
            "minutes": args.minutes,
            "train_seconds": round(train_s, 1),
            "val": {
                "images": args.val_images,
                "seed": args.val_seed,
                "conf": 0.03,
                "iou": 0.65,
                "max_det": 300,
                "labels": "single (best class per anchor)",
                "ap50": round(ap50, 4),
                "ap": round(ap, 4),
                "multi_label": {"ap50": round(ml50, 4), "ap": round(ml, 4)},
            },
            "ort_max_abs_diff": diff,
            "torch": torch.__version__,
        }
        rec_path = onnx_path.with_suffix(".json")
        rec_path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"exported {onnx_path} ({size / 1e6:.2f} MB), ORT max abs diff {diff:.2e}, record {rec_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

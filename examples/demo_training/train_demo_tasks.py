"""Train lite's three small task demos on CPU and export them in ultralytics' ONNX layouts.

* ``--task segment``: 6 shape classes on 160×160 scenes (`lite.demo.scenes.make_instance_scene`), exported like
  YOLOv8-seg: ``output0`` ``(1, 4 + 6 + 32, 400)`` (cx, cy, w, h in input pixels, sigmoided class scores, 32 mask
  coefficients; one stride-8 level) and ``output1`` ``(1, 32, 40, 40)`` mask prototypes.
* ``--task pose``: diamonds and their 4 corners (`make_diamond_scene`), exported like YOLOv8-pose:
  ``output0`` ``(1, 4 + 1 + 4 * 3, 400)`` (keypoints x, y in input pixels and a sigmoided visibility).
* ``--task classify``: one shape per 64×64 image (`make_single_shape`), exported like YOLOv8-cls:
  ``output0`` ``(1, 6)`` softmax probabilities.

Each ONNX file carries ultralytics-style metadata (``task``, ``names`` as ``{0: 'circle', ...}``, ``imgsz``,
``stride``, ``kpt_shape`` for pose) plus lite's ``model``; a JSON record beside it holds the sha256, the command,
the seed and the validation figures measured with lite's own ops (`lite.ops.masks`, `lite.ops.keypoints`,
`lite.ops.classify`) on ONNX Runtime outputs of held-out scenes. The networks are small plain convolution stacks
defined here (no torchvision). The segmentation and pose scenes are drawn once from ``--seed`` (a pool reused
every epoch); the classifier's images are drawn fresh for every batch.

Example:
    python examples/demo_training/train_demo_tasks.py --task segment --minutes 8 --export hub/lite-demo-shapes-seg.onnx
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

if __package__ in (None, "") and not any((Path(p) / "lite").is_dir() for p in sys.path if p):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lite.demo.scenes import (  # noqa: E402
    DIAMOND_KEYPOINTS,
    SHAPE_NAMES,
    make_diamond_scene,
    make_instance_scene,
    make_single_shape,
)

DET_SIZE, STRIDE, PROTO = 160, 8, 40
CLS_SIZE = 64
NAMES = {"segment": SHAPE_NAMES, "pose": ("square",), "classify": SHAPE_NAMES}
MODEL_NAMES = {"segment": "lite-demo-shapes-seg", "pose": "lite-demo-diamonds-pose", "classify": "lite-demo-shapes-cls"}
NUM_KPTS = len(DIAMOND_KEYPOINTS)


def cbs(ci: int, co: int, s: int = 1) -> nn.Sequential:
    """Conv 3×3 + BatchNorm + SiLU."""
    return nn.Sequential(nn.Conv2d(ci, co, 3, s, 1, bias=False), nn.BatchNorm2d(co), nn.SiLU())


class TaskNet(nn.Module):
    """A tiny single-level (stride 8) anchor-free detector with a mask-prototype or keypoint branch."""

    def __init__(self, task: str, nc: int) -> None:
        super().__init__()
        self.task, self.nc = task, nc
        self.extra = 32 if task == "segment" else NUM_KPTS * 3
        self.s1 = cbs(3, 16, 2)
        self.s2 = cbs(16, 24, 2)  # stride 4
        self.s3 = nn.Sequential(cbs(24, 32, 2), cbs(32, 32))  # stride 8
        self.s4 = nn.Sequential(cbs(32, 48, 2), cbs(48, 48))  # stride 16
        self.s5 = nn.Sequential(cbs(48, 48, 2), cbs(48, 48))  # stride 32
        self.f4 = cbs(96, 48)
        self.f3 = cbs(80, 40)
        self.head = cbs(40, 48)
        self.out = nn.Conv2d(48, 4 + nc + self.extra, 1)
        if task == "segment":
            self.squeeze = nn.Conv2d(40, 16, 1)
            self.proto = nn.Sequential(cbs(40, 24), nn.Conv2d(24, 32, 1))
        n = DET_SIZE // STRIDE
        ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        self.register_buffer("anchors", ((torch.stack([xs, ys], 0).reshape(2, -1).float() + 0.5) * STRIDE))
        with torch.no_grad():
            self.out.bias[:4] = math.log(math.expm1(2.0))  # boxes start 2 strides from the centre each way
            self.out.bias[4 : 4 + nc] = -4.0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        p2 = self.s2(self.s1(x))
        p3 = self.s3(p2)
        p4 = self.s4(p3)
        p5 = self.s5(p4)
        f4 = self.f4(torch.cat([p4, F.interpolate(p5, scale_factor=2.0, mode="nearest")], 1))
        f3 = self.f3(torch.cat([p3, F.interpolate(f4, scale_factor=2.0, mode="nearest")], 1))
        raw = self.out(self.head(f3)).flatten(2)  # (B, C, N)
        ltrb = F.softplus(raw[:, :4]) * STRIDE
        a = self.anchors[None]
        xy = a + (ltrb[:, 2:] - ltrb[:, :2]) / 2
        wh = ltrb[:, :2] + ltrb[:, 2:]
        scores = raw[:, 4 : 4 + self.nc].sigmoid()
        rest = raw[:, 4 + self.nc :]
        if self.task == "pose":
            k = rest.reshape(rest.shape[0], NUM_KPTS, 3, -1)
            kxy = a[:, None] + k[:, :, :2] * (2 * STRIDE)
            rest = torch.cat([kxy, k[:, :, 2:].sigmoid()], 2).reshape(rest.shape)
            return (torch.cat([xy, wh, scores, rest], 1),)
        up = F.interpolate(self.squeeze(f3), scale_factor=2.0, mode="bilinear", align_corners=False)
        protos = self.proto(torch.cat([p2, up], 1))
        return torch.cat([xy, wh, scores, rest], 1), protos


class ClassNet(nn.Module):
    """A tiny classifier ending in a softmax (like ultralytics' ``-cls`` exports)."""

    def __init__(self, nc: int) -> None:
        super().__init__()
        self.body = nn.Sequential(cbs(3, 16, 2), cbs(16, 32, 2), cbs(32, 32), cbs(32, 48, 2), cbs(48, 48),
                                  cbs(48, 64, 2), cbs(64, 64))  # fmt: skip
        self.fc = nn.Linear(64, nc)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x).mean((2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(x).softmax(1)


# --------------------------------------------------------------------------- data


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """BGR uint8 images → RGB /255 NCHW float32 (ultralytics' preprocessing)."""
    arr = np.stack(images)[..., ::-1].astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2)))


def make_pool(task: str, n: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    if task == "classify":
        return [make_single_shape(rng, (CLS_SIZE, CLS_SIZE)) for _ in range(n)]
    make = make_instance_scene if task == "segment" else make_diamond_scene
    return [make(rng, (DET_SIZE, DET_SIZE)) for _ in range(n)]


def assign(boxes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Index of the truth each anchor learns from (-1: background): anchors inside the box near its centre."""
    out = np.full(anchors.shape[0], -1, np.int64)
    if not len(boxes):
        return out
    best_area = np.full(anchors.shape[0], np.inf)
    for j, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
        r = max(1.5 * STRIDE, 0.25 * min(w, h))
        d = np.hypot(anchors[:, 0] - cx, anchors[:, 1] - cy)
        ok = (d < r) & (anchors[:, 0] > x1) & (anchors[:, 0] < x2) & (anchors[:, 1] > y1) & (anchors[:, 1] < y2)
        if not ok.any():
            ok = d == d.min()
        take = ok & (w * h < best_area)
        out[take] = j
        best_area[take] = w * h
    return out


def giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    lt, rb = torch.max(a[:, :2], b[:, :2]), torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_a, area_b = (a[:, 2:] - a[:, :2]).prod(1), (b[:, 2:] - b[:, :2]).prod(1)
    union = area_a + area_b - inter
    hull = (torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])).prod(1)
    return inter / union - (hull - union) / hull


def det_loss(net: TaskNet, batch: list[Any], outputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    out0 = outputs[0]
    anchors = net.anchors.T.numpy()
    total = out0.new_zeros(())
    for b, scene in enumerate(batch):
        owner = assign(scene.boxes, anchors)
        pos = np.flatnonzero(owner >= 0)
        target = torch.zeros(net.nc, out0.shape[2])
        cls = scene.class_ids[owner[pos]] if net.task == "segment" else np.zeros(len(pos), np.int64)  # pose: 1 class
        target[torch.from_numpy(cls), torch.from_numpy(pos)] = 1.0
        scores = out0[b, 4 : 4 + net.nc]
        n_pos = max(len(pos), 1)
        total = total + F.binary_cross_entropy(scores.clamp(1e-6, 1 - 1e-6), target, reduction="sum") / n_pos
        if not len(pos):
            continue
        p = out0[b, :, pos]
        pred = torch.cat([p[:2] - p[2:4] / 2, p[:2] + p[2:4] / 2], 0).T
        gt = torch.from_numpy(scene.boxes[owner[pos]])
        total = total + 5.0 * (1 - giou(pred, gt)).mean()
        rest = p[4 + net.nc :]
        if net.task == "pose":
            k = rest.reshape(NUM_KPTS, 3, -1)
            gk = torch.from_numpy(scene.corners[owner[pos]]).permute(1, 2, 0)  # (K, 2, P)
            size = torch.from_numpy(np.maximum(scene.boxes[owner[pos], 2:] - scene.boxes[owner[pos], :2], 1).max(1))
            total = total + 10.0 * ((k[:, :2] - gk).abs() / size).mean()
            total = total + F.binary_cross_entropy(k[:, 2].clamp(1e-6, 1 - 1e-6), torch.ones_like(k[:, 2]))
        else:
            protos = outputs[1][b]  # (32, 40, 40)
            logits = (rest.T @ protos.reshape(32, -1)).reshape(-1, PROTO, PROTO)
            gm = scene.masks[owner[pos]].astype(np.float32)
            small = torch.from_numpy(gm.reshape(-1, PROTO, DET_SIZE // PROTO, PROTO, DET_SIZE // PROTO).mean((2, 4)))
            bx = torch.from_numpy(scene.boxes[owner[pos]] / (DET_SIZE / PROTO))
            r = torch.arange(PROTO).float() + 0.5
            cols = (r[None, None, :] > bx[:, 0, None, None] - 1) & (r[None, None, :] < bx[:, 2, None, None] + 1)
            rows = (r[None, :, None] > bx[:, 1, None, None] - 1) & (r[None, :, None] < bx[:, 3, None, None] + 1)
            inside = cols & rows
            bce = F.binary_cross_entropy_with_logits(logits, small, reduction="none")
            total = total + 4.0 * ((bce * inside).sum((1, 2)) / inside.sum((1, 2)).clamp(min=1)).mean()
    return total / len(batch)


# --------------------------------------------------------------------------- evaluation (lite's ops on ORT)


def evaluate(task: str, onnx_path: Path, n: int, seed: int, conf: float = 0.25) -> dict[str, float]:
    """Figures on ``n`` held-out scenes, decoded with lite's ops from ONNX Runtime outputs."""
    import onnxruntime as ort

    from lite.ops.classify import to_probabilities, top_k

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    pool = make_pool(task, n, seed)
    if task == "classify":
        hits = 0
        for img, cid in pool:
            probs = to_probabilities(sess.run(None, {"images": to_tensor([img]).numpy()})[0])
            hits += int(top_k(probs[0], 1)[0][0] == cid)
        return {"images": n, "top1": hits / n}
    return evaluate_instances(task, sess, pool, conf)


def decode_instances(task: str, outputs: list[np.ndarray], nc: int, conf: float = 0.25) -> dict[str, np.ndarray]:
    """Boxes, scores, classes and masks / keypoints of one image (input = image: 160×160, no letterbox)."""
    from lite.ops.keypoints import keypoints_to_original, split_pose_rows
    from lite.ops.letterbox import letterbox_geometry
    from lite.ops.masks import prototype_masks, split_seg_rows
    from lite.ops.nms import nms_indices

    rows = outputs[0][0].T
    if task == "segment":
        cxcywh, cls, extra = split_seg_rows(rows, nc, 32)
    else:
        cxcywh, cls, extra = split_pose_rows(rows, nc, [NUM_KPTS, 3])
    scores, ids = cls.max(1), cls.argmax(1)
    k = scores > conf
    boxes = np.concatenate([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1)[k]
    keep = nms_indices(boxes, scores[k], ids[k], iou_threshold=0.7)
    t = letterbox_geometry((DET_SIZE, DET_SIZE), DET_SIZE)
    res = {"boxes": t.to_original(boxes[keep]), "scores": scores[k][keep], "class_ids": ids[k][keep]}
    if task == "segment":
        res["masks"] = prototype_masks(outputs[1], extra[k][keep], boxes[keep], t)
    else:
        res["keypoints"] = keypoints_to_original(extra[k][keep], t)
    return res


def match(pred_boxes: np.ndarray, gt_boxes: np.ndarray, thr: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by box IoU (predictions in score order)."""
    from lite.ops.nms import box_iou

    if not len(pred_boxes) or not len(gt_boxes):
        return []
    iou = box_iou(pred_boxes, gt_boxes)
    pairs, used = [], set()
    for i in range(len(pred_boxes)):
        for j in np.argsort(-iou[i]):
            if iou[i, j] < thr:
                break
            if int(j) not in used:
                used.add(int(j))
                pairs.append((i, int(j)))
                break
    return pairs


def evaluate_instances(task: str, sess: Any, pool: list[Any], conf: float = 0.25) -> dict[str, float]:
    nc = len(NAMES[task])
    values, n_gt, n_found, n_wrong_class = [], 0, 0, 0
    for scene in pool:
        outs = sess.run(None, {"images": to_tensor([scene.image]).numpy()})
        res = decode_instances(task, outs, nc, conf)
        pairs = match(res["boxes"], scene.boxes)
        n_gt += len(scene.boxes)
        n_found += len(pairs)
        got = dict(pairs)
        for i, j in pairs:
            truth = scene.class_ids[j] if task == "segment" else 0  # the pose model's one class is "square"
            n_wrong_class += int(res["class_ids"][i] != truth)
        for j in range(len(scene.boxes)):
            i = next((a for a, b in got.items() if b == j), None)
            if task == "segment":
                if i is None:
                    values.append(0.0)
                    continue
                m, g = res["masks"][i], scene.masks[j]
                values.append(float((m & g).sum() / max((m | g).sum(), 1)))
            elif i is not None:
                size = float(np.linalg.norm(scene.corners[j, 0] - scene.corners[j, 2]))  # corner to corner
                err = np.linalg.norm(res["keypoints"][i, :, :2] - scene.corners[j], axis=1).mean()
                values.append(float(err / size))
    out = {"images": len(pool), "conf": conf, "instances": n_gt, "recall@0.5": n_found / max(n_gt, 1),
           "class_errors": n_wrong_class}  # fmt: skip
    key = "mean_mask_iou" if task == "segment" else "mean_corner_error_rel"
    out[key] = float(np.mean(values)) if values else 0.0
    return out


# --------------------------------------------------------------------------- export


def export(task: str, net: nn.Module, path: Path) -> Path:
    from lite.export import torch_to_onnx

    size = CLS_SIZE if task == "classify" else DET_SIZE
    names = NAMES[task]
    meta: dict[str, Any] = {
        "task": task,
        "names": repr(dict(enumerate(names))),
        "imgsz": f"[{size}, {size}]",
        "stride": str(STRIDE if task != "classify" else 1),
        "batch": "1",
        "model": MODEL_NAMES[task],
        "description": f"lite demo {task} model trained on procedural shapes (examples/demo_training)",
    }
    if task == "pose":
        meta["kpt_shape"] = f"[{NUM_KPTS}, 3]"
        meta["kpt_names"] = repr({0: list(DIAMOND_KEYPOINTS)})
    outputs = ["output0", "output1"] if task == "segment" else ["output0"]
    report = torch_to_onnx(net.eval(), torch.zeros(1, 3, size, size), path, opset=13, output_names=outputs,
                           metadata=meta)  # fmt: skip
    return Path(report.path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", choices=sorted(NAMES), required=True)
    ap.add_argument("--pool", type=int, default=3000, help="training scenes drawn once (segment, pose)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--minutes", type=float, default=10.0, help="the cosine schedule ends by then")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val", type=int, default=200)
    ap.add_argument("--val-seed", type=int, default=777)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--val-conf", type=float, default=0.25, help="score threshold of the validation decode")
    ap.add_argument("--eval-only", type=Path, default=None, metavar="ONNX",
                    help="only validate this exported model and update its record's val")  # fmt: skip
    ap.add_argument("--export", type=Path, required=True)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    task = args.task
    if args.eval_only is not None:
        val = evaluate(task, args.eval_only, args.val, args.val_seed, args.val_conf)
        rec_path = args.eval_only.with_suffix(".json")
        record = json.loads(rec_path.read_text())
        record["val"] = {"seed": args.val_seed, **val}
        record["val_command"] = "python " + " ".join(
            shlex.quote(a) for a in [Path(sys.argv[0]).as_posix(), *sys.argv[1:]]
        )
        rec_path.write_text(json.dumps(record, indent=2) + "\n")
        print(json.dumps(val))
        return
    t0 = time.time()
    # a classifier over-fits a fixed pool: its batches are drawn fresh (a single shape is cheap to draw)
    pool = make_pool(task, 0 if task == "classify" else args.pool, args.seed)
    print(f"{len(pool)} training scenes in {time.time() - t0:.0f} s", flush=True)
    net: nn.Module = ClassNet(len(SHAPE_NAMES)) if task == "classify" else TaskNet(task, len(NAMES[task]))
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    rng = np.random.default_rng(args.seed + 1)
    start, step = time.time(), 0
    budget = args.minutes * 60
    net.train()
    while step < args.steps:
        progress = max(step / args.steps, (time.time() - start) / budget)
        if progress >= 1:
            break
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))
        if task == "classify":
            batch = [make_single_shape(rng, (CLS_SIZE, CLS_SIZE)) for _ in range(args.batch)]
        else:
            batch = [pool[i] for i in rng.choice(len(pool), args.batch, replace=False)]
        if task == "classify":
            x = to_tensor([b[0] for b in batch])
            loss = F.cross_entropy(net.logits(x), torch.tensor([b[1] for b in batch]))
        else:
            x = to_tensor([s.image for s in batch])
            loss = det_loss(net, batch, net(x))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} lr {opt.param_groups[0]['lr']:.5f} "
                  f"{time.time() - start:.0f} s", flush=True)  # fmt: skip
    train_s = time.time() - start
    path = export(task, net, args.export)
    val = evaluate(task, path, args.val, args.val_seed, args.val_conf)
    print(json.dumps(val), flush=True)
    from lite.core.files import sha256_file

    record = {
        "model": MODEL_NAMES[task],
        "file": path.name,
        "task": task,
        "sha256": sha256_file(path),
        "onnx_bytes": path.stat().st_size,
        "names": list(NAMES[task]),
        "input": {
            "name": "images",
            "shape": [1, 3, *([CLS_SIZE] * 2 if task == "classify" else [DET_SIZE] * 2)],
            "format": "RGB/255" + (" (drawn at that size)" if task == "classify" else " letterbox"),
        },  # fmt: skip
        "parameters": sum(p.numel() for p in net.parameters()),
        "command": "python " + " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "seed": args.seed,
        "steps": step,
        "train_seconds": round(train_s, 1),
        "val": {"seed": args.val_seed, **val},
        "torch": torch.__version__,
    }
    if task == "pose":
        record["keypoints"] = list(DIAMOND_KEYPOINTS)
    path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

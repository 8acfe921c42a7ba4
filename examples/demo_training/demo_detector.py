"""lite's own small demo detector: a YOLOv6-style anchor-free model trained on procedural shapes.

Not part of the ``lite`` package (training is not inference): the training script
``train_demo_detector.py`` beside it imports it, and lite's tests import it from this folder.

The model follows YOLOv6's head contract, so everything in lite that reads YOLOv6 exports
reads it too:

* input ``images``: ``(B, 3, 320, 320)`` RGB float in ``[0, 1]``, letterboxed with fill 114;
* three levels at strides 8, 16, 32; each cell ``(i, j)`` predicts distances ``l, t, r, b``
  (in stride units, from the cell centre ``(j + 0.5, i + 0.5)``) and ``nc`` class logits;
* ``export_layout="decoded"``: one tensor ``(B, N, 5 + nc)`` = ``cx, cy, w, h`` (input
  pixels), a column of ones (objectness), sigmoid class scores; anchors level by level,
  row-major within a level (YOLOv6 ``export_onnx.py`` layout);
* ``export_layout="raw"``: one 4-D tensor per level ``(B, 4 + nc, H/s, W/s)`` with channels
  ``l, t, r, b, sigmoid scores...`` (the decode-free NCNN/MNN layout), no 5-D reshapes;
* training mode returns the flattened logits and distances the loss needs.

Training uses a task-aligned assigner (alignment ``score * IoU**6`` over anchors inside the
box, top-k per object), BCE on IoU-aware soft class targets and a GIoU box loss.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lite.core.files import sha256_file  # noqa: F401  (re-exported for the training script)
from lite.demo.scenes import SHAPE_NAMES

__all__ = [
    "STRIDES",
    "DemoConfig",
    "DemoDetector",
    "DetectionLoss",
    "ModelEMA",
    "letterbox",
    "export_onnx",
    "save_checkpoint",
    "load_checkpoint",
    "decode_raw_outputs",
    "count_parameters",
]

STRIDES: tuple[int, int, int] = (8, 16, 32)
"""Strides of the three output levels."""

LAYOUTS = ("decoded", "raw", "train")
MODEL_NAME = "lite-demo-shapes"


# --------------------------------------------------------------------------- config
@dataclass
class DemoConfig:
    """Hyper-parameters that define the network (stored in checkpoints).

    Attributes:
        nc: Number of classes.
        names: Class names, ``len(names) == nc``.
        width: Channel multiplier.
        depth: Number of residual blocks per backbone stage multiplier.
        neck: Neck / head channels before ``width``.
        img_size: Square input size the model is trained and exported at.
    """

    nc: int = 6
    names: list[str] = field(default_factory=lambda: list(SHAPE_NAMES))
    width: float = 1.0
    depth: int = 1
    neck: int = 64
    img_size: int = 320

    def __post_init__(self) -> None:
        self.names = list(self.names)
        if len(self.names) != self.nc:
            raise ValueError(f"DemoConfig: {len(self.names)} names for nc={self.nc}")


def _ch(c: float, width: float) -> int:
    return max(8, int(math.ceil(c * width / 8) * 8))


# --------------------------------------------------------------------------- layers
class ConvBNAct(nn.Module):
    """Conv2d (no bias) + BatchNorm + SiLU (or identity); padding ``k // 2`` unless given."""

    def __init__(
        self, c1: int, c2: int, k: int = 1, s: int = 1, groups: int = 1, act: bool = True, p: int | None = None
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DWSep(nn.Module):
    """Depthwise ``k x k`` (stride ``s``) + pointwise ``c1 -> c2``, residual when shapes allow."""

    def __init__(self, c1: int, c2: int, s: int = 1, k: int = 3) -> None:
        super().__init__()
        self.dw = ConvBNAct(c1, c1, k, s, groups=c1)
        self.pw = ConvBNAct(c1, c2, 1)
        self.add = s == 1 and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        return x + y if self.add else y


class Backbone(nn.Module):
    """Stem + 4 stages; returns the stride 8, 16 and 32 feature maps.

    The stem is a dense 3x3 stride-2 conv to few channels followed directly by a stride-2
    depthwise-separable conv: no block runs at stride 2 or 4, whose activations dominate
    CPU training time.
    """

    def __init__(self, width: float, depth: int) -> None:
        super().__init__()
        c = [_ch(v, width) for v in (16, 32, 64, 128, 192)]
        self.channels = (c[2], c[3], c[4])
        self.stem = ConvBNAct(3, c[0], 3, 2)
        self.s1 = nn.Sequential(DWSep(c[0], c[1], 2), *[DWSep(c[1], c[1]) for _ in range(depth - 1)])
        self.s2 = nn.Sequential(DWSep(c[1], c[2], 2), *[DWSep(c[2], c[2], k=5) for _ in range(2 * depth)])
        self.s3 = nn.Sequential(DWSep(c[2], c[3], 2), *[DWSep(c[3], c[3], k=5) for _ in range(2 * depth)])
        self.s4 = nn.Sequential(DWSep(c[3], c[4], 2), *[DWSep(c[4], c[4], k=5) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.s1(self.stem(x))
        p3 = self.s2(x)
        p4 = self.s3(p3)
        p5 = self.s4(p4)
        return [p3, p4, p5]


class Neck(nn.Module):
    """A light PAN: 1x1 laterals, top-down with nearest upsampling, bottom-up with stride-2 depthwise."""

    def __init__(self, channels: Sequence[int], c: int) -> None:
        super().__init__()
        self.l3, self.l4, self.l5 = (ConvBNAct(ci, c, 1) for ci in channels)
        self.td4 = DWSep(c, c, k=5)
        self.td3 = DWSep(c, c, k=5)
        self.down3 = ConvBNAct(c, c, 3, 2, groups=c)
        self.bu4 = DWSep(c, c, k=5)
        self.down4 = ConvBNAct(c, c, 3, 2, groups=c)
        self.bu5 = DWSep(c, c, k=5)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        c3, c4, c5 = self.l3(feats[0]), self.l4(feats[1]), self.l5(feats[2])
        p4 = self.td4(c4 + F.interpolate(c5, scale_factor=2.0, mode="nearest"))
        p3 = self.td3(c3 + F.interpolate(p4, scale_factor=2.0, mode="nearest"))
        n4 = self.bu4(p4 + self.down3(p3))
        n5 = self.bu5(c5 + self.down4(n4))
        return [p3, n4, n5]


class HeadLevel(nn.Module):
    """Decoupled head of one level: separate class and box branches, 1x1 predictors."""

    def __init__(self, c: int, nc: int, prior: float = 0.01) -> None:
        super().__init__()
        self.stem = ConvBNAct(c, c, 1)
        self.cls_branch = DWSep(c, c, k=5)
        self.reg_branch = DWSep(c, c, k=5)
        self.cls_pred = nn.Conv2d(c, nc, 1)
        self.reg_pred = nn.Conv2d(c, 4, 1)
        nn.init.zeros_(self.cls_pred.weight)
        nn.init.constant_(self.cls_pred.bias, -math.log((1 - prior) / prior))
        nn.init.normal_(self.reg_pred.weight, std=0.01)
        nn.init.constant_(self.reg_pred.bias, math.log(math.e - 1.0))  # softplus(bias) = 1 stride

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Distances ``(B, 4, h, w)`` (positive, stride units; softplus keeps gradients alive) and logits."""
        x = self.stem(x)
        return F.softplus(self.reg_pred(self.reg_branch(x))), self.cls_pred(self.cls_branch(x))


# --------------------------------------------------------------------------- model
class DemoDetector(nn.Module):
    """The demo detector.

    Args:
        config: Network hyper-parameters.
        export_layout: Output layout outside training: ``"decoded"``, ``"raw"`` or ``"train"``.

    Example:
        >>> model = DemoDetector(DemoConfig()).eval()
        >>> model(torch.zeros(1, 3, 320, 320)).shape
        torch.Size([1, 2100, 11])
    """

    def __init__(self, config: DemoConfig | None = None, export_layout: str = "decoded") -> None:
        super().__init__()
        self.config = config or DemoConfig()
        self.nc = self.config.nc
        self.strides = STRIDES
        if export_layout not in LAYOUTS:
            raise ValueError(f"export_layout must be one of {LAYOUTS}, got {export_layout!r}")
        self.export_layout = export_layout
        c = _ch(self.config.neck, self.config.width)
        self.backbone = Backbone(self.config.width, self.config.depth)
        self.neck = Neck(self.backbone.channels, c)
        self.heads = nn.ModuleList(HeadLevel(c, self.nc) for _ in self.strides)

    def forward_levels(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per level ``(distances (B, 4, h, w), class logits (B, nc, h, w))``."""
        feats = self.neck(self.backbone(x))
        return [head(f) for head, f in zip(self.heads, feats, strict=True)]

    def forward(self, x: torch.Tensor) -> Any:
        """Run the network.

        Returns:
            Training (or ``export_layout == "train"``): dict with ``dist`` ``(B, N, 4)``,
            ``logits`` ``(B, N, nc)``, ``anchors`` ``(N, 2)`` (cell centres in pixels) and
            ``strides`` ``(N,)``. ``"decoded"``: tensor ``(B, N, 5 + nc)``. ``"raw"``: tuple of
            three ``(B, 4 + nc, H/s, W/s)`` tensors.
        """
        levels = self.forward_levels(x)
        if self.export_layout == "raw" and not self.training:
            return tuple(torch.cat([d, c.sigmoid()], 1) for d, c in levels)
        dist = torch.cat([d.flatten(2) for d, _ in levels], 2).transpose(1, 2)  # (B, N, 4)
        logits = torch.cat([c.flatten(2) for _, c in levels], 2).transpose(1, 2)  # (B, N, nc)
        anchors, strides = make_anchors([(d.shape[2], d.shape[3]) for d, _ in levels], self.strides, x.device)
        if self.training or self.export_layout == "train":
            return {"dist": dist, "logits": logits, "anchors": anchors, "strides": strides}
        s = strides[:, None]
        lt, rb = dist[..., :2], dist[..., 2:]
        cxy = (anchors / s + (rb - lt) * 0.5) * s
        wh = (lt + rb) * s
        scores = logits.sigmoid()
        return torch.cat([cxy, wh, torch.ones_like(scores[..., :1]), scores], -1)


def make_anchors(
    shapes: Sequence[tuple[int, int]], strides: Sequence[int], device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell centres ``((j + 0.5) * s, (i + 0.5) * s)`` level by level, row-major, and their strides.

    Args:
        shapes: ``(h, w)`` of each level.
        strides: Stride of each level.
        device: Device of the returned tensors.

    Returns:
        ``(anchors (N, 2), strides (N,))`` as float32.
    """
    pts, st = [], []
    for (h, w), s in zip(shapes, strides, strict=True):
        ys = (torch.arange(int(h), device=device, dtype=torch.float32) + 0.5) * s
        xs = (torch.arange(int(w), device=device, dtype=torch.float32) + 0.5) * s
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        pts.append(torch.stack([xx, yy], -1).reshape(-1, 2))
        st.append(torch.full((int(h) * int(w),), float(s), device=device))
    return torch.cat(pts), torch.cat(st)


def decode_raw_outputs(raw: Sequence[np.ndarray], strides: Sequence[int] = STRIDES) -> np.ndarray:
    """Decode the ``"raw"`` layout into the ``"decoded"`` one with numpy (reference implementation).

    Args:
        raw: Per level ``(B, 4 + nc, h, w)`` arrays ``[l, t, r, b, scores...]``.
        strides: Stride of each level.

    Returns:
        ``(B, N, 5 + nc)``: ``cx, cy, w, h, 1, scores...``.
    """
    out = []
    for r, s in zip(raw, strides, strict=True):
        b, c, h, w = r.shape
        flat = r.reshape(b, c, h * w).transpose(0, 2, 1)
        ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        ax, ay = (jj.reshape(-1) + 0.5), (ii.reshape(-1) + 0.5)
        dl, dt, dr, db = flat[..., 0], flat[..., 1], flat[..., 2], flat[..., 3]
        x1, y1, x2, y2 = (ax - dl) * s, (ay - dt) * s, (ax + dr) * s, (ay + db) * s
        box = np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], -1)
        out.append(np.concatenate([box, np.ones_like(box[..., :1]), flat[..., 4:]], -1))
    return np.concatenate(out, 1)


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (weights, biases, BN affine) of ``model``."""
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- preprocessing
def letterbox(
    image: np.ndarray, size: int | tuple[int, int] = 320, fill: int = 114
) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping aspect ratio and pad to ``size``: :func:`lite.ops.letterbox.letterbox_image`.

    Args:
        image: ``(h, w, 3)`` uint8 image.
        size: Output size, an int for square or ``(H, W)``.
        fill: Padding value.

    Returns:
        ``(padded, ratio, (pad_x, pad_y))``: input pixel = original pixel * ratio + pad.
    """
    from lite.ops.letterbox import letterbox_image  # the library's one letterbox: training sees what inference sees

    out, t = letterbox_image(image, size, fill=fill)
    return out, t.ratio, (float(t.pad[0]), float(t.pad[1]))


# --------------------------------------------------------------------------- loss
def _box_iou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Element-wise IoU of broadcastable ``xyxy`` boxes ``(..., 4)``."""
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]).clamp(min=0) * (a[..., 3] - a[..., 1]).clamp(min=0)
    area_b = (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    return inter / (area_a + area_b - inter + eps)


def _giou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Element-wise generalised IoU of ``xyxy`` boxes ``(n, 4)``."""
    iw = (torch.minimum(a[:, 2], b[:, 2]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    ih = (torch.minimum(a[:, 3], b[:, 3]) - torch.maximum(a[:, 1], b[:, 1])).clamp(min=0)
    inter = iw * ih
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter + eps
    cw = torch.maximum(a[:, 2], b[:, 2]) - torch.minimum(a[:, 0], b[:, 0])
    chh = torch.maximum(a[:, 3], b[:, 3]) - torch.minimum(a[:, 1], b[:, 1])
    hull = cw * chh + eps
    return inter / union - (hull - union) / hull


class DetectionLoss:
    """Task-aligned assignment + BCE (soft IoU-aware targets) + GIoU.

    Args:
        nc: Number of classes.
        topk: Anchors kept per object by the assigner.
        alpha: Exponent of the class score in the alignment metric.
        beta: Exponent of the IoU in the alignment metric.
        box_weight: Weight of the GIoU loss.
        cls_weight: Weight of the class loss.
    """

    def __init__(
        self,
        nc: int,
        topk: int = 10,
        alpha: float = 1.0,
        beta: float = 6.0,
        box_weight: float = 2.5,
        cls_weight: float = 1.0,
    ) -> None:
        self.nc, self.topk, self.alpha, self.beta = nc, topk, alpha, beta
        self.box_weight, self.cls_weight = box_weight, cls_weight

    @staticmethod
    def pad_targets(
        targets: Sequence[tuple[torch.Tensor, torch.Tensor]], device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stack per-image ``(boxes (n, 4) xyxy, labels (n,))`` into padded ``(B, M, ...)`` tensors and a mask."""
        m = max([len(b) for b, _ in targets] + [1])
        bsz = len(targets)
        boxes = torch.zeros(bsz, m, 4, device=device)
        labels = torch.zeros(bsz, m, dtype=torch.long, device=device)
        mask = torch.zeros(bsz, m, dtype=torch.bool, device=device)
        for i, (b, c) in enumerate(targets):
            n = len(b)
            if n:
                boxes[i, :n] = torch.as_tensor(b, dtype=torch.float32, device=device)
                labels[i, :n] = torch.as_tensor(c, dtype=torch.long, device=device)
                mask[i, :n] = True
        return boxes, labels, mask

    @torch.no_grad()
    def assign(
        self,
        scores: torch.Tensor,
        pboxes: torch.Tensor,
        anchors: torch.Tensor,
        gt_boxes: torch.Tensor,
        gt_labels: torch.Tensor,
        gt_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Task-aligned assignment.

        Args:
            scores: ``(B, N, nc)`` sigmoid class scores.
            pboxes: ``(B, N, 4)`` predicted ``xyxy`` boxes in pixels.
            anchors: ``(N, 2)`` cell centres in pixels.
            gt_boxes: ``(B, M, 4)`` padded ``xyxy`` targets.
            gt_labels: ``(B, M)`` padded class ids.
            gt_mask: ``(B, M)`` which targets are real.

        Returns:
            ``(fg (B, N) bool, target_boxes (B, N, 4), target_scores (B, N, nc))``.
        """
        bsz, n_anchor, _ = scores.shape
        ax, ay = anchors[:, 0], anchors[:, 1]
        g = gt_boxes[:, :, None, :]  # (B, M, 1, 4)
        deltas = torch.stack([ax - g[..., 0], ay - g[..., 1], g[..., 2] - ax, g[..., 3] - ay], -1)
        in_gt = (deltas.amin(-1) > 1e-6) & gt_mask[:, :, None]  # (B, M, N)
        ious = _box_iou(g, pboxes[:, None, :, :]).clamp(min=0)  # (B, M, N)
        cls_score = scores.transpose(1, 2).gather(1, gt_labels[:, :, None].expand(-1, -1, n_anchor))  # (B, M, N)
        metric = cls_score.pow(self.alpha) * ious.pow(self.beta) * in_gt
        k = min(self.topk, n_anchor)
        top = metric.topk(k, dim=-1).indices
        pos = torch.zeros_like(metric, dtype=torch.bool).scatter_(-1, top, True) & in_gt  # (B, M, N)
        # an anchor claimed by several objects goes to the one its box overlaps most
        multi = pos.sum(1) > 1
        if multi.any():
            best = (ious * pos).argmax(1)  # (B, N)
            one = F.one_hot(best, gt_boxes.shape[1]).transpose(1, 2).bool()
            pos = torch.where(multi[:, None, :], one & pos, pos)
        fg = pos.any(1)  # (B, N)
        idx = pos.float().argmax(1)  # (B, N)
        target_boxes = gt_boxes.gather(1, idx[..., None].expand(-1, -1, 4))
        target_labels = gt_labels.gather(1, idx)
        metric = metric * pos
        norm = metric * (ious * pos).amax(-1, keepdim=True) / (metric.amax(-1, keepdim=True) + 1e-9)
        quality = norm.amax(1) * fg  # (B, N)
        target_scores = F.one_hot(target_labels, self.nc).float() * quality[..., None]
        return fg, target_boxes, target_scores

    def __call__(
        self, out: dict[str, torch.Tensor], targets: Sequence[tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of one batch.

        Args:
            out: The training-mode output of :class:`DemoDetector`.
            targets: Per image ``(boxes (n, 4) xyxy in input pixels, class ids (n,))``.

        Returns:
            ``(loss, parts)``: the scalar to minimise (already scaled by batch size) and
            detached ``{"box", "cls", "fg"}`` for logging.
        """
        dist, logits = out["dist"].float(), out["logits"].float()
        anchors, strides = out["anchors"], out["strides"]
        s = strides[None, :, None]
        pboxes = torch.cat([anchors[None] - dist[..., :2] * s, anchors[None] + dist[..., 2:] * s], -1)
        gt_boxes, gt_labels, gt_mask = self.pad_targets(targets, dist.device)
        scores = logits.detach().sigmoid()
        fg, tboxes, tscores = self.assign(scores, pboxes.detach(), anchors, gt_boxes, gt_labels, gt_mask)
        norm = tscores.sum().clamp(min=1.0)
        cls_loss = F.binary_cross_entropy_with_logits(logits, tscores, reduction="sum") / norm
        if fg.any():
            weight = tscores.sum(-1)[fg]
            box_loss = ((1.0 - _giou(pboxes[fg], tboxes[fg])) * weight).sum() / norm
        else:
            box_loss = dist.sum() * 0.0
        loss = self.cls_weight * cls_loss + self.box_weight * box_loss
        parts = {"box": float(box_loss.detach()), "cls": float(cls_loss.detach())}
        parts["fg"] = float(fg.sum()) / max(len(targets), 1)
        return loss, parts


# --------------------------------------------------------------------------- EMA
class ModelEMA:
    """Exponential moving average of a model's weights (decay ramps up from 0 to ``decay``).

    Args:
        model: The model being trained.
        decay: Final decay.
        tau: Ramp length in updates.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, tau: float = 500.0) -> None:
        import copy

        self.ema = copy.deepcopy(model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Blend ``model``'s current weights into the average."""
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        msd = model.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
            else:
                v.copy_(msd[k])


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(model: DemoDetector, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Save ``{"config", "state_dict", "extra"}`` with :func:`torch.save`.

    Args:
        model: The model (its config is stored alongside the weights).
        path: Output ``.pt`` path (parents created).
        extra: Optional JSON-able metadata (epochs, metrics...).

    Returns:
        The path written.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"config": asdict(model.config), "state_dict": state, "extra": extra or {}}, p)
    return p


def load_checkpoint(path: str | Path, export_layout: str = "decoded") -> DemoDetector:
    """Rebuild a :class:`DemoDetector` from :func:`save_checkpoint` output, in eval mode.

    Args:
        path: The ``.pt`` checkpoint.
        export_layout: Output layout of the returned model.

    Returns:
        The model on CPU, ``eval()``.
    """
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    model = DemoDetector(DemoConfig(**ckpt["config"]), export_layout=export_layout)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


# --------------------------------------------------------------------------- export
def export_onnx(
    model: DemoDetector, path: str | Path, layout: str = "decoded", img_size: int = 320, opset: int = 13
) -> Path:
    """Export ``model`` to ONNX with lite's metadata, through :func:`lite.export.torch_to_onnx`.

    Input ``images`` ``(1, 3, img_size, img_size)``; output ``outputs`` (decoded) or
    ``out0, out1, out2`` (the per-level ``raw`` layout). Metadata props: ``names``,
    ``strides``, ``input_size``, ``layout`` and ``model``. The export is checked, simplified
    with onnxslim (with a warning if that fails) and verified against PyTorch in ONNX Runtime
    (a mismatch is a :class:`~lite.core.errors.VerificationError`).

    Args:
        model: The detector (any mode; a copy is exported in eval mode).
        path: Output ``.onnx`` path (parents created).
        layout: ``"decoded"`` or ``"raw"``.
        img_size: Square input size.
        opset: ONNX opset.

    Returns:
        The path written.
    """
    import copy

    from lite.data.metadata import ModelMeta
    from lite.export import torch_to_onnx

    if layout not in ("decoded", "raw"):
        raise ValueError(f"layout must be 'decoded' or 'raw', got {layout!r}")
    out_path = Path(path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    m = copy.deepcopy(model).cpu().float().eval()
    m.export_layout = layout
    names = ["outputs"] if layout == "decoded" else [f"out{i}" for i in range(len(m.strides))]
    meta = ModelMeta(
        names=tuple(m.config.names),
        strides=tuple(int(s) for s in m.strides),
        input_size=(img_size, img_size),
        layout="decoded" if layout == "decoded" else "raw",
        extra={"model": MODEL_NAME},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the anchor grid is constant at a fixed size
        report = torch_to_onnx(
            m, torch.zeros(1, 3, img_size, img_size), out_path, opset=opset, output_names=names, metadata=meta
        )
    return Path(report.path)

"""YOLOv6's four layouts as registered decoders, over the unchanged [`lite.ops.decode`][lite.ops.decode] arithmetic.

``decoded`` (also settles YOLOv6 0.1's raw ``anchor_grid`` from the values, as it always did),
``anchor_grid`` (when forced), ``raw`` (per-level heads ``(B, 4+nc, H/s, W/s)``) and ``end2end``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar

import numpy as np

from lite.core.errors import InputError
from lite.ops import grids
from lite.ops.decode import END2END_NAMES, DecodeSpec, Layout, decode_checked, detect_layout, refine_layout
from lite.ops.decoders import base
from lite.ops.decoders.base import Decoder, Hints, Plan, Shape, register_decoder

__all__ = ["YOLOv6Decoded", "YOLOv6AnchorGrid", "YOLOv6Raw", "YOLOv6End2End", "negative_size_fraction"]

#: Share of rows with a negative width or height above which "decoded" boxes are not decoded boxes.
NEGATIVE_SIZE_LIMIT = 0.2


def negative_size_fraction(rows: np.ndarray, wh: slice = slice(2, 4)) -> float:
    """Share of rows ``(..., C)`` whose width or height column is negative."""
    sizes = np.asarray(rows)[..., wh]
    return float((sizes < 0).any(axis=-1).mean()) if sizes.size else 0.0


class _YOLOv6Layout(Decoder):
    layout: ClassVar[Layout]

    def _spec(self, shapes: Mapping[str, Shape], hints: Hints) -> DecodeSpec | None:
        spec = detect_layout(  # an InputError says why none of YOLOv6's layouts fits
            shapes,
            num_classes=hints.num_classes,
            layout=hints.layout,
            strides=hints.strides,
            input_hw=hints.input_hw,
        )
        forced = {k: v for k, v in (("box_first", hints.box_first), ("sigmoid", hints.sigmoid)) if v is not None}
        if forced and spec.layout is Layout.RAW:
            spec = replace(spec, **forced)
            if len(forced) == 2:
                spec = replace(spec, resolved=True)
        return spec

    def refine(self, plan: Plan, outputs: Mapping[str, np.ndarray]) -> Plan:
        spec: DecodeSpec = plan.options["spec"]
        forced = plan.options.get("forced", {})
        new = refine_layout(spec, outputs)
        if forced:  # what the caller or the metadata said wins over what the values suggest
            new = replace(new, **forced)
        return replace(plan.with_options(spec=new), num_classes=new.num_classes, resolved=True)

    def candidates(self, plan, outputs, input_hw, *, conf, multi_label, pre_nms_topk):
        spec: DecodeSpec = plan.options["spec"]
        return decode_checked(outputs, spec, input_hw, conf, multi_label, pre_nms_topk)  # run_plan checked them

    def describe_options(self, plan: Plan) -> str:
        parts = plan.options["spec"].describe().split(", ")
        return ", ".join(p for p in parts if not p.startswith("strides") and not p.endswith(" classes"))

    def _plan(self, spec: DecodeSpec, hints: Hints, confidence: float, **kw) -> Plan:
        forced = {k: v for k, v in (("box_first", hints.box_first), ("sigmoid", hints.sigmoid)) if v is not None}
        strides = kw.pop("strides", spec.strides)
        return self.plan(
            spec.names,
            spec.num_classes,
            strides=tuple(strides),
            confidence=confidence,
            options={"spec": spec, "forced": forced if spec.layout is Layout.RAW else {}},
            resolved=spec.resolved,
            **kw,
        )


class _Flat(_YOLOv6Layout):
    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        spec = self._spec(shapes, hints)
        if spec is None or spec.layout is not self.layout:
            return None
        shape = tuple(shapes[spec.names[0]])
        rows = base.int_dim(shape[1])
        nc = spec.num_classes or 0
        if not base.plausible_classes(nc, rows, hints):
            return None
        strides, mismatch, fits = base.flat_strides(rows, hints)
        three = mismatch and hints.input_hw is not None and rows is not None
        if three and grids.infer_strides(rows, hints.input_hw, hints.stride_sets(), per_cell=3):  # type: ignore[arg-type]
            return None  # three anchors per cell: YOLOv5's decoded output, never YOLOv6's
        conf = base.class_confidence(nc, hints, 0.75) if rows is not None else 0.5
        if mismatch:
            conf = 0.3
        return self._plan(spec, hints, conf, strides=strides or spec.strides, size_mismatch=mismatch, fits=fits)

    def check(self, plan: Plan, outputs: Mapping[str, np.ndarray], input_hw: tuple[int, int]) -> str | None:
        spec: DecodeSpec = plan.options["spec"]
        if spec.layout is not Layout.DECODED:
            return None
        out = np.asarray(outputs[spec.names[0]])
        frac = negative_size_fraction(out)
        if frac > NEGATIVE_SIZE_LIMIT:
            return (
                f"{frac:.0%} of the 'decoded' rows have a negative width or height, so columns 2-3 are not box "
                f"sizes: this is a raw grid output (offsets and log-sizes, as YOLOX exports), not YOLOv6's decoded one"
            )
        # Decoded centres spread over the image; raw offsets (a few cells) all sit near the origin.
        near_origin = float(((np.abs(out[..., 0]) < 4) & (np.abs(out[..., 1]) < 4)).mean()) if out.size else 0.0
        if near_origin > 0.5:
            return (
                f"{near_origin:.0%} of the 'decoded' box centres lie within 4 pixels of the image corner, so columns "
                f"0-1 are not centres in pixels: this is a raw grid output (offsets in cells, as YOLOX exports)"
            )
        return None


@register_decoder("decoded")
class YOLOv6Decoded(_Flat):
    """YOLOv6 ``(B, N, 5+nc)`` / ``(B, N, 4+nc)`` decoded boxes (raw anchor-grid settled from the values)."""

    signature = "(B, N, 5+nc) cx,cy,w,h,obj,classes in input pixels, N = cells"
    layout = Layout.DECODED


@register_decoder("anchor_grid")
class YOLOv6AnchorGrid(_Flat):
    """YOLOv6 0.1's raw anchor-grid ``(B, N, 5+nc)`` (matched when the layout is given as ``anchor_grid``)."""

    signature = "(B, N, 5+nc) raw offsets, log-sizes and logits, N = cells"
    layout = Layout.ANCHOR_GRID


@register_decoder("raw")
class YOLOv6Raw(_YOLOv6Layout):
    """YOLOv6 per-level heads ``(B, 4+nc, H/s, W/s)`` (l, t, r, b distances from cell centres)."""

    signature = "per level (B, 4+nc, H/s, W/s)"
    layout = Layout.RAW

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        spec = self._spec(shapes, hints)
        if spec is None or spec.layout is not Layout.RAW:
            return None
        if not base.plausible_classes(spec.num_classes or 0, None, hints):
            return None
        sizes = [(base.int_dim(shapes[n][2]), base.int_dim(shapes[n][3])) for n in spec.names]
        strides: tuple[int, ...] = tuple(spec.strides)
        mismatch, fits = False, ()
        if hints.input_hw is not None and all(h and w for h, w in sizes):
            hw = hints.input_hw
            if strides:
                mismatch = grids.level_sizes(hw, strides) != sizes
            else:
                try:
                    strides = grids.strides_from_maps(sizes, hw)  # type: ignore[arg-type]
                except InputError:
                    mismatch = True
            if mismatch:
                s0 = strides[0] if strides else 8
                h0, w0 = sizes[0]
                fits = ((h0 * s0, w0 * s0),)  # type: ignore[operator]
        conf = base.class_confidence(spec.num_classes or 0, hints, 0.8)
        return self._plan(spec, hints, 0.3 if mismatch else conf, strides=strides, size_mismatch=mismatch, fits=fits)


@register_decoder("end2end")
class YOLOv6End2End(_YOLOv6Layout):
    """End-to-end outputs ``num_dets, det_boxes, det_scores, det_classes`` (EfficientNMS / ONNX NMS)."""

    signature = "num_dets, det_boxes, det_scores, det_classes (NMS inside)"
    layout = Layout.END2END
    end2end = True

    def match(self, shapes: Mapping[str, Shape], hints: Hints) -> Plan | None:
        spec = self._spec(shapes, hints)
        if spec is None or spec.layout is not Layout.END2END:
            return None
        return self._plan(spec, hints, 1.0 if set(END2END_NAMES) <= set(shapes) else 0.8)

"""Registered output decoders: one class per output layout (see `lite.ops.decoders.base`).

Importing this package registers the built-in decoders:

========================  ==========================================================================
name                      outputs
========================  ==========================================================================
``decoded``               YOLOv6 ``(B, N, 5+nc)`` decoded (raw anchor-grid settled from the values)
``anchor_grid``           YOLOv6 0.1 raw anchor grid (when the layout is given)
``raw``                   YOLOv6 per-level ``(B, 4+nc, H/s, W/s)``
``end2end``               ``num_dets, det_boxes, det_scores, det_classes``
``yolov8``                ultralytics ``(B, 4+nc, N)``
``yolov8_end2end``        ultralytics ``(B, K, 6)`` with NMS inside
``yolov5``                YOLOv5 decoded ``(B, 3·cells, 5+nc)`` (among its raw outputs)
``yolov5_anchors``        YOLOv5 raw anchor heads ``(B, 3, H, W, 5+nc)`` / NCNN ``(3, H·W, 5+nc)``
``yolox``                 YOLOX raw grid ``(B, cells, 5+nc)``
``nanodet_plus``          NanoDet-Plus ``(B, N, nc + 4·(reg_max+1))``
``nanodet``               NanoDet ``cls_pred_stride_*`` / ``dis_pred_stride_*``
``detr``                  RT-DETR / D-FINE ``(B, Q, 4)`` boxes + ``(B, Q, nc)`` logits (no NMS)
``yolov8_seg``            ultralytics ``(B, 4+nc+nm, N)`` + ``(B, nm, H/4, W/4)`` prototypes (masks)
``yolov5_seg``            YOLOv5-seg ``(B, N, 5+nc+nm)`` + prototypes (masks)
``yolov8_pose``           ultralytics ``(B, 4+nc+K·D, N)`` (keypoints)
``maskrcnn``              Mask R-CNN ``boxes``, ``labels``, ``scores``, ``masks (n, 1, M, M)`` (NMS inside)
``classify``              ``(B, C)`` whole-image class scores
========================  ==========================================================================

Each decoder says its ``task`` (`lite.ops.decoders.tasks`).
"""

from lite.ops.decoders import detr as _detr  # noqa: F401  (registers)
from lite.ops.decoders import maskrcnn as _maskrcnn  # noqa: F401  (registers)
from lite.ops.decoders import nanodet as _nanodet  # noqa: F401  (registers)
from lite.ops.decoders import tasks as _tasks  # noqa: F401  (registers)
from lite.ops.decoders import yolo as _yolo  # noqa: F401  (registers)
from lite.ops.decoders import yolov6 as _yolov6  # noqa: F401  (registers)
from lite.ops.decoders.base import (
    Decoder,
    Hints,
    Plan,
    decoder_names,
    get_decoder,
    match_outputs,
    postprocess_plan,
    register_decoder,
    run_plan,
)

__all__ = [
    "Decoder",
    "Hints",
    "Plan",
    "decoder_names",
    "get_decoder",
    "match_outputs",
    "postprocess_plan",
    "register_decoder",
    "run_plan",
]

"""Mask R-CNN style instance segmentation (torchvision's export and its kind), added by following
docs/architecture.md's checklist: a record, a decoder (`lite.ops.decoders.maskrcnn`), tests.

The export has NMS inside and gives ``boxes``, ``labels``, ``scores`` and ``(n, 1, 28, 28)`` ``masks``; lite
thresholds the scores, maps the boxes to the image and pastes each kept mask into its box (torchvision's
``paste_masks_in_image``). Preprocessing: RGB, /255 (the model normalises inside, as torchvision's
``GeneralizedRCNNTransform`` does), the image at the top-left of a zero-padded canvas (torchvision batches
images that way), default 640×640 (pass ``input_size=`` for a dynamic-shape export: torchvision's own
resize takes the short side to 800).
"""

from __future__ import annotations

from lite.cv.detector import Detector
from lite.cv.family import register_family
from lite.cv.records import FamilyRecord
from lite.ops.preprocess import PreprocessConfig

__all__ = ["MaskRCNN", "MASK_RCNN_RECORD"]

MASK_RCNN_RECORD = FamilyRecord(
    "maskrcnn",
    decoders=(("maskrcnn", 1),),
    preprocess=PreprocessConfig(color="rgb", scale=1 / 255, pad_value=0, pad_align="topleft"),
    input_size=(640, 640),
    aliases=("mask-rcnn", "mask_rcnn"),
)


@register_family(record=MASK_RCNN_RECORD)
class MaskRCNN(Detector):
    """Mask R-CNN: ``boxes (n, 4)``, ``labels (n,)``, ``scores (n,)``, ``masks (n, 1, M, M)``; NMS inside.

    ``detect`` returns `Detections` with ``masks`` (one ``(H, W)`` boolean mask per box, in image pixels).

    Example:
        ```python
        # not run: no Mask R-CNN export in the shared models (tests/test_tasks_models.py builds one)
        from lite.cv import MaskRCNN

        print(MaskRCNN("maskrcnn_resnet50_fpn.onnx").detect("bus.jpg").masks.shape)
        ```
    """

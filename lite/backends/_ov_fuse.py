"""OpenVINO's PrePostProcessor for a model's pixel preprocessing (for the OpenVINO backend's fused path).

`fuse_preprocess_ov` returns a new ``openvino.Model`` whose image input takes the
letterbox canvas as it is, ``u8`` ``NHWC`` BGR, and does the config's steps inside the
compiled graph: ``convert_element_type(f32)``, ``convert_color(RGB)`` when the model wants RGB,
then either ``scale(1 / scale)`` (a plain config: a division, like numpy's) or
``mean(mean / scale)`` + ``scale(std / scale)`` (``(x - m) / s`` equals
``(x · scale - mean) / std``); the layout conversion NHWC -> NCHW comes from the declared
layouts. Results equal `lite.ops.preprocess.normalize` to within 1 ulp (tested).

The backend keeps taking float NCHW tensors on its own compiled model; a fused backend compiles
this second model for [`lite.backends.base.Backend.infer_canvas`][lite.backends.base.Backend.infer_canvas].
"""

from __future__ import annotations

from typing import Any

__all__ = ["fuse_preprocess_ov"]


def fuse_preprocess_ov(ov: Any, model: Any, config: Any) -> Any:
    """The model with ``config``'s preprocessing prepended by OpenVINO's PrePostProcessor.

    Args:
        ov: The imported ``openvino`` module.
        model: An ``openvino.Model`` with one 4-D NCHW float image input (it is not modified).
        config: The `PreprocessConfig`.

    Returns:
        A new ``openvino.Model`` taking ``u8`` ``(N, H, W, 3)`` BGR canvases.

    Raises:
        ValueError: The model does not have one 4-D image input.
    """
    from openvino.preprocess import ColorFormat, PrePostProcessor

    if len(model.inputs) != 1 or model.inputs[0].get_partial_shape().rank.get_length() != 4:
        raise ValueError("expected one 4-D NCHW image input")
    model = model.clone()
    ppp = PrePostProcessor(model)
    inp = ppp.input()
    inp.tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(ColorFormat.BGR)
    inp.model().set_layout(ov.Layout("NCHW"))
    steps = inp.preprocess().convert_element_type(ov.Type.f32)
    if config.color == "rgb":
        steps.convert_color(ColorFormat.RGB)
    if config.plain:
        steps.scale(float(1.0 / config.scale))
    else:
        mean = config.mean if config.mean is not None else (0.0, 0.0, 0.0)
        std = config.std if config.std is not None else (1.0, 1.0, 1.0)
        steps.mean([float(m / config.scale) for m in mean]).scale([float(s / config.scale) for s in std])
    return ppp.build()

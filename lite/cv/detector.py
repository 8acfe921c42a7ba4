"""The detector: the image-model layer plus the detection part (output layout → decode → NMS → Detections).

`ImageModel` opens the model, reads its input and metadata, chooses the
input size and preprocesses images per the family's `PreprocessConfig`.
A `Detector` adds what is detection: which registered decoder
(`lite.ops.decoders`) reads the outputs, the shared threshold / top-k / NMS, and
`Detections`. A family class (`lite.cv.YOLOv8`, `lite.cv.NanoDet`...)
is mostly data: its preprocessing, default input size, decoder names and default strides / anchors.
`Detector.from_file` picks the family from the file.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lite.backends.base import Backend
from lite.core import checks as _checks
from lite.core.errors import (
    AssumedDefaultWarning,
    DegenerateOutputWarning,
    InputError,
    InputSizeError,
    LayoutError,
    ModelOutputError,
    StreamError,
    TaskNotSupportedError,
)
from lite.cv.image_model import ImageModel, InputSizeSource
from lite.cv.records import RECORDS, TASK_APIS, FamilyRecord
from lite.cv.resolve import hints_for, parse_anchors
from lite.data.coco import COCO_NAMES
from lite.data.detections import Detections
from lite.data.io import batch_sources, load_image
from lite.ops.candidates import Candidates
from lite.ops.canvas import TensorCache, tensor_into
from lite.ops.decoders import Hints, Plan, decoder_names, get_decoder, match_outputs, run_plan
from lite.ops.decoders.tasks import find_task
from lite.ops.decoders.yolov6 import DecodeSpec, Layout
from lite.ops.letterbox import LetterboxTransform
from lite.ops.options import DetectOptions
from lite.ops.preprocess import PreprocessConfig

__all__ = ["DEGENERATE_SCORE", "DEGENERATE_TOPK", "DETECTOR_TASKS", "Detector"]

#: The tasks a `Detector` returns `Detections` for (boxes; boxes with masks; boxes with keypoints).
DETECTOR_TASKS = ("detect", "segment", "pose")

#: A quantized model whose best score on its first image is below this "finds nothing" (`DegenerateOutputWarning`).
#: The YOLOX-Nano OpenVINO int8 of ``../shared`` whose head the quantization broke peaks at 0.011 on bus.jpg.
DEGENERATE_SCORE = 0.05
#: Top scores of the first image that, all one value, make its scores constant or saturated.
DEGENERATE_TOPK = 1000


def _is_quantized(backend: Backend) -> bool:
    """Whether the backend's model holds int8 quantization: the backend's own ``quantized`` when it knows (OpenVINO),
    else the ONNX graph's ops when the ``onnx`` package is there (read only when asked: on a suspicious first
    inference)."""
    known = getattr(backend, "quantized", None)
    if known is not None:
        return bool(known)
    path = backend.model_path
    if path.suffix.lower() != ".onnx" or not path.is_file():
        return False
    from lite.backends._onnx import file_is_quantized

    return bool(file_is_quantized(path))


class Detector(ImageModel):
    """An object detector on any backend.

    Use a family class (`YOLOv6`, `YOLOv8`, ...) or
    `Detector.from_file`; a plain ``Detector(model)`` reads YOLOv6's layouts.

    Args:
        model: Model file (``.onnx``, ``.param``, ``.mnn``, ``.engine``...), a hub name such as
            ``"yolov6lite-s"``, or an opened [`Backend`][lite.backends.Backend].
        backend: Backend name (``"ort"``, ``"ncnn"``, ``"mnn"``, ``"trt"``); None picks one from the suffix.
        device: Device for the backend (``"cpu"``, ``"cuda:0"``...); None: the backend's default
            (CPU for ONNX Runtime, NCNN and MNN; ``cuda:0`` for TensorRT).
        threads: Engine thread count (None: engine default).
        input_size: Network input ``int`` or ``(H, W)`` for models with dynamic H, W (default: the
            model's metadata, else the hub manifest's size, else the family default). A model with a
            fixed input ignores nothing: asking for another size is an error.
        auto: Rectangular inference: letterbox to the smallest multiple of the largest stride that
            holds the image (dynamic-shape models only).
        scaleup: Allow the letterbox to enlarge small images.
        conf: Score threshold (score = obj · class).
        iou: NMS IoU threshold.
        max_det: Detections kept per image.
        nms: ``"class_aware"`` (default), ``"agnostic"`` or ``"blend"``.
        multi_label: Every class above ``conf`` for an anchor is a candidate (COCO evaluation).
        pre_nms_topk: Candidates per image, highest scores first, that reach NMS.
        names: Class names (default: the model's metadata, else COCO-80 for 80-class models).
        strides: Strides per level (default: metadata, else inferred from the outputs).
        layout: YOLOv6: force the output layout (``"decoded"``, ``"anchor_grid"``, ``"raw"``, ``"end2end"``).
        box_first: YOLOv6 ``raw`` only: force the channel order (True: ``[l,t,r,b,classes]``); default: the
            model's metadata key ``box_first``, else detected from the first outputs.
        sigmoid: YOLOv6 ``raw`` only: force whether class outputs are logits needing a sigmoid; default: the
            metadata key ``sigmoid``, else detected.
        anchors: YOLOv5 anchor heads: anchors per level in pixels, ``[[w, h, w, h, w, h], ...]`` or
            ``[[(w, h), ...], ...]`` (default: YOLOv5's standard anchors).
        reg_max: NanoDet: distribution size minus one (default: from the class count, else 7).
        preprocess: Override the family's `PreprocessConfig`.
        fuse_preprocess: Let the backend take the letterbox canvas and normalise it natively
            (`Backend.fuse_preprocess`: NCNN, ONNX Runtime, OpenVINO); ``False`` always feeds float
            NCHW; None: the backend decides where it measured faster (NCNN: on; ONNX Runtime: from
            512×512 inputs up; OpenVINO: up to 320×320).
        **backend_options: Passed to the backend (e.g. ``allow_fallback``, ``optimization``, ``fp16``).
    """

    #: Registry name of the family (None: plain Detector, which reads YOLOv6's layouts).
    family: ClassVar[str | None] = None
    #: The family's data (`lite.cv.records.FamilyRecord`), set by `register_family`; the ClassVars below come from it.
    record: ClassVar[FamilyRecord | None] = None
    #: Registered decoders (`lite.ops.decoders`) this family's outputs may have, most usual first.
    decoders: ClassVar[tuple[str, ...]] = ("decoded", "anchor_grid", "raw", "end2end")
    #: Strides tried first when the model does not say (None: the usual sets).
    default_strides: ClassVar[tuple[int, ...] | None] = None
    #: YOLOv5-style anchors per level (None: the decoder's default).
    default_anchors: ClassVar[tuple[tuple[tuple[float, float], ...], ...] | None] = None
    #: Input size for dynamic-shape models when nothing else says.
    default_input_size: ClassVar[tuple[int, int]] = (640, 640)
    #: Why this family was chosen (`Detector.from_file`: metadata key, output signature, tie-break).
    family_reasons: tuple[str, ...] = ()
    #: Class names when the model carries none and has this many classes.
    default_names: ClassVar[tuple[str, ...]] = COCO_NAMES

    def __init__(
        self,
        model: str | Path | Backend,
        backend: str | None = None,
        *,
        device: str | None = None,
        threads: int | None = None,
        input_size: int | Sequence[int] | None = None,
        auto: bool = False,
        scaleup: bool = True,
        conf: float = DetectOptions.conf,
        iou: float = DetectOptions.iou,
        max_det: int = DetectOptions.max_det,
        nms: str = DetectOptions.nms,
        multi_label: bool = DetectOptions.multi_label,
        pre_nms_topk: int = DetectOptions.pre_nms_topk,
        names: Sequence[str] | None = None,
        strides: Sequence[int] | None = None,
        layout: str | None = None,
        box_first: bool | None = None,
        sigmoid: bool | None = None,
        anchors: Sequence[Any] | None = None,
        reg_max: int | None = None,
        preprocess: PreprocessConfig | None = None,
        fuse_preprocess: bool | None = None,
        **backend_options: Any,
    ) -> None:
        _checks.check_detector_args(
            model, opened=Backend, device=device, threads=threads, input_size=input_size, names=names, strides=strides,
            box_first=box_first, sigmoid=sigmoid,
        )  # fmt: skip
        # checked before opening: a wrong argument fails before any engine loads
        self._check_family_knobs(layout=layout, box_first=box_first, sigmoid=sigmoid, anchors=anchors, reg_max=reg_max)
        self._check_layout_argument(layout)
        self._user_strides = tuple(int(s) for s in strides) if strides is not None else None
        self._set_options(DetectOptions(conf, iou, max_det, nms, multi_label, pre_nms_topk))
        self._set_layout_hints(box_first=box_first, sigmoid=sigmoid, anchors=anchors, reg_max=reg_max)
        self.plan: Plan | None = None  # set by _setup_outputs, which ImageModel.__init__ calls
        self._validated = False
        super().__init__(
            model,
            backend,
            device=device,
            threads=threads,
            input_size=input_size,
            auto=auto,
            scaleup=scaleup,
            names=names,
            strides=strides,
            layout=layout,
            preprocess=preprocess,
            **backend_options,
        )
        if fuse_preprocess is None:
            fuse_preprocess = self.backend.fuse_by_default_for(tuple(self.input_hw))
        #: True when the backend takes the uint8 canvas and normalises it itself (`_feed`).
        self.fused = bool(fuse_preprocess) and self.backend.fuse_preprocess(self.preprocess_config)

    @classmethod
    def _own_record(cls) -> FamilyRecord:
        """The family's record (a plain ``Detector`` reads YOLOv6's layouts: YOLOv6's)."""
        return cls.record or RECORDS["yolov6"]

    @classmethod
    def knobs(cls) -> tuple[str, ...]:
        """The keywords this family takes: the common ones and its record's own (not another family's)."""
        own = set(cls._own_record().knob_names())
        others = {k.name for r in RECORDS.values() for k in r.knobs} - own
        return tuple(k for k in super().knobs() if k not in others)

    @classmethod
    def _check_family_knobs(cls, **given: Any) -> None:
        """A family keyword given to another family is an InputError naming its owner and this family's own."""
        rec = cls._own_record()
        foreign = [k for k, v in given.items() if v is not None and k not in rec.knob_names()]
        if not foreign:
            for knob in rec.knobs:  # each keyword's range, from the record
                knob.check(given.get(knob.name), rec.name)
            return
        own = "; ".join(k.describe() for k in rec.knobs) or "none"
        raise InputError(
            _owners_of(foreign) + f", not of family {rec.name!r}, whose own keywords are: {own}. Drop it, or open "
            f"the model as its family (family=)"
        )

    @classmethod
    def _check_layout_argument(cls, layout: str | None) -> None:
        """``layout=`` names one of YOLOv6's layouts."""
        if layout is None:
            return
        yolov6 = [m.value for m in Layout]
        fam = cls.family or "yolov6"
        try:
            Layout.parse(layout)
        except InputError:
            raise InputError(f"layout: expected one of {yolov6} (family {fam!r}); got {layout!r}") from None

    def _set_options(self, options: DetectOptions) -> None:
        """Store the validated detection options as the per-call defaults."""
        self.conf, self.iou, self.max_det = options.conf, options.iou, options.max_det
        self.multi_label, self.pre_nms_topk, self.nms = options.multi_label, options.pre_nms_topk, options.nms

    def _set_layout_hints(
        self, *, box_first: bool | None, sigmoid: bool | None, anchors: Sequence[Any] | None, reg_max: int | None
    ) -> None:
        """Check and store the caller's layout settings (read by `_hints` when the outputs are matched)."""
        self._box_first, self._sigmoid = box_first, sigmoid
        self._anchors = parse_anchors(anchors, "anchors") if anchors is not None else None
        self._reg_max = reg_max

    # -- choosing the family -------------------------------------------------------------
    @classmethod
    def from_file(
        cls, model: str | Path | Backend, *, family: str | None = None, task: str | None = None, **kwargs: Any
    ) -> Detector:
        """Opens ``model`` as the family it is: given, read from its metadata, or told by its outputs.

        The family comes from ``family=``; else the metadata (lite's sidecar ``family`` key, ultralytics
        ONNX metadata → ``yolov8``, YOLOv5's ``stride``/``names`` metadata → ``yolov5``, the hub manifest);
        else the output signature when only one family's decoders read it best (values of one blank
        inference settle ties, e.g. YOLOX's raw grid vs YOLOv6's decoded boxes). Segmentation and pose exports
        open too: their `detect` gives `Detections` with ``masks`` or ``keypoints`` (``task`` says which).

        Args:
            model: Model file, hub name or opened backend.
            family: Family name (``"yolov5"``, ``"yolov6"``, ``"yolov8"``/``"yolo11"``, ``"yolox"``, ``"nanodet"``).
            task: The task required: ``"detect"``, ``"segment"`` or ``"pose"`` (None: any of them); a model of
                another task is refused with `TaskNotSupportedError`.
            **kwargs: Detector arguments (``backend``, ``device``, ``input_size``, ``conf``...).

        Returns:
            An instance of the family class.

        Raises:
            InputError: Unknown family (the message lists them).
            AmbiguousModelError: Several families fit equally (the message names them and says ``family=``).
            LayoutError: No family reads these outputs.
            TaskNotSupportedError: An image classifier (open it with `lite.cv.Classifier`), or not ``task``.
        """
        from lite.cv.family import check_task, open_model

        if family is None and cls is not Detector and cls.family is not None:
            return check_task(cls(model, **kwargs), task, opened_here=True)
        return open_model(model, family=family, task=task, api="Detector.from_file", tasks=DETECTOR_TASKS, **kwargs)

    # -- reading the outputs -----------------------------------------------------------------
    def _hints(self, input_hw: tuple[int, int] | None = None) -> Hints:
        return hints_for(
            self.meta,
            input_hw or self.input_hw,
            anchors=self._anchors,
            reg_max=self._reg_max,
            box_first=self._box_first,
            sigmoid=self._sigmoid,
            default_strides=self.default_strides,
            default_anchors=self.default_anchors,
        )

    def _setup_outputs(self) -> None:
        shapes, probed = self._output_shapes()
        self.plan = self._choose_plan(shapes)
        if self.plan.size_mismatch:
            self._settle_size(shapes, probed)
        dec = get_decoder(self.plan.decoder)
        if dec.preprocess_overrides and not self._user_preprocess:
            self.preprocess_config = replace(self.preprocess_config, **dec.preprocess_overrides)  # type: ignore[misc]
        layout_size = dec.default_input_size
        if (
            probed
            and self.input_size_source == InputSizeSource.DEFAULT
            and layout_size is not None
            and tuple(layout_size) != self.input_hw
        ):
            self.input_hw, self.input_size_source = tuple(layout_size), InputSizeSource.LAYOUT  # type: ignore[assignment]
            self.plan = self._choose_plan(self._output_shapes()[0])
        self._check_strides_used()
        if self.plan.options.get("anchors_assumed"):
            anchors = [[v for wh in lv for v in wh] for lv in self.plan.options["anchors"]]
            warnings.warn(
                f"{self.backend.model_path.name}: neither the model's metadata nor anchors= gives the anchors: "
                f"assuming family {self.family or 'yolov6'}'s default anchors {anchors}. Pass anchors=[[w, h, w, h, "
                f"w, h], ...] per level if the model was trained with others",
                AssumedDefaultWarning,
                stacklevel=3,
            )

    def _check_strides_used(self) -> None:
        """``strides=`` must be what the outputs are read with (one value: the largest stride); never ignored."""
        given = self._user_strides
        if given is None:
            return
        used = self.strides
        if used is None or given == tuple(used) or (len(given) == 1 and given[0] == max(used)):
            return
        h, w = self.input_hw
        raise InputError(
            f"strides={list(given)}: {self.backend.model_path.name}'s outputs at input {h}x{w} are levels of "
            f"strides {list(used)} (layout {self.plan.decoder if self.plan else '?'}), not {list(given)}; pass "
            f"strides={list(used)} or leave strides= unset"
        )

    def _settle_size(self, shapes: Mapping[str, tuple], probed: bool) -> None:
        """Outputs that do not fit the input size: adopt the one size that fits, or refuse."""
        plan, (h, w) = self.plan, self.input_hw
        assert plan is not None
        desc = _describe_shapes(shapes)
        name = self.backend.model_path.name
        fits = list(plan.fits)
        may_infer = probed and self.input_size_source in (InputSizeSource.DEFAULT, InputSizeSource.LAYOUT)
        if may_infer and len(fits) == 1:
            self.input_hw, self.input_size_source = fits[0], InputSizeSource.INFERRED
            self.plan = self._choose_plan(self._output_shapes()[0])
            if not self.plan.size_mismatch:
                return
        sizes = ", ".join(f"{a}x{b}" for a, b in fits)
        raise InputSizeError(
            f"{name}: the outputs {desc} do not fit input {h}x{w} ({self.input_size_source}) for layout "
            f"{plan.decoder!r}"
            + (f" with strides {plan.strides}" if plan.strides else "")
            + (
                f"; they fit input {sizes}: the model was built for that size, pass input_size={fits[0][0]}"
                if fits
                else "; no input size explains them: pass input_size= with the size the model was built for"
            )
            + (" (one blank inference at each size would differ: the graph has a fixed size)" if len(fits) > 1 else "")
        )

    def _choose_plan(self, shapes: Mapping[str, tuple]) -> Plan:
        """This family's most likely reading of the outputs; refuses when none fits or another family fits better."""
        from lite.cv.family import describe_plans

        found = refuse_other_task(self.backend, shapes, self.meta, self._own_record().tasks, self.family or "yolov6")
        hints = self._hints()
        reasons: list[str] = []
        own = match_outputs(shapes, hints, self.decoders, reasons)
        others = match_outputs(shapes, hints, [d for d in decoder_names() if d not in self.decoders])
        fam = self.family or "yolov6"
        name = self.backend.model_path.name
        desc = _describe_shapes(shapes)
        if not own:
            why = f" ({'; '.join(reasons)})" if reasons else ""
            expected = "; or ".join(f"{d} {get_decoder(d).signature}" for d in self.decoders)
            msg = f"{name}: the outputs {desc} fit no {fam} layout{why}; expected {expected}"
            unnamed = replace(hints, num_classes=None)
            if hints.num_classes is not None and match_outputs(shapes, unnamed, self.decoders):
                msg += (
                    f". They do fit with another class count than the {hints.num_classes} names from "
                    f"{self.meta.source_of('names')}: pass names= with one name per class of the model"
                )
            elif others:
                msg += f". They fit {describe_plans(others)}: open the model with that family (or Detector.from_file)"
            elif not match_outputs(shapes, unnamed):
                msg += ". No registered family reads them: lite does not support this model"
            raise LayoutError(msg)
        best = own[0]
        if found is not None and get_decoder(best.decoder).task != found[0]:
            task = found[0]
            expected = "; or ".join(f"{d} {get_decoder(d).signature}" for d in self._own_record().decoders_for(task))
            why = f" ({'; '.join(reasons)})" if reasons else ""
            raise TaskNotSupportedError(
                f"{name}: a {task} model ({found[1]}), but its outputs {desc} fit no {task} layout of family {fam}"
                f"{why}; expected {expected}. Only {best.describe()} reads them, which would be a wrong answer: "
                f"export the model again with all its outputs (and its metadata)",
                task,
                found[1],
            )
        forced = self.meta.layout is not None
        if others and not forced and others[0].confidence > best.confidence + 1e-9:
            raise LayoutError(
                f"{name}: the outputs {desc} look like {describe_plans(others[:1])}, not {fam} "
                f"(the best {fam} reading, {best.describe()}, fits less well); open the model with that family, "
                f"or Detector.from_file(..., family=...) to choose"
            )
        return best

    @property
    def spec(self) -> DecodeSpec | None:
        """YOLOv6 layouts: the [`DecodeSpec`][lite.ops.decoders.yolov6.DecodeSpec] (None for other decoders)."""
        return self.plan.options.get("spec") if self.plan is not None else None

    def _max_stride(self) -> int:
        strides = self.strides
        if strides:
            return max(strides)
        ms = self.meta.strides
        return ms[0] if ms and len(ms) == 1 else 32

    @property
    def strides(self) -> tuple[int, ...] | None:
        """Strides per level: given or from metadata, else inferred from the outputs (None if unknown)."""
        if self.meta.strides and len(self.meta.strides) > 1:
            return self.meta.strides
        plan = self.plan
        if plan is None:
            return None
        if plan.strides:
            return plan.strides
        if plan.decoder == "raw":
            return tuple(8 * 2**i for i in range(len(plan.names)))
        return None

    # -- properties ---------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """Class names by class id."""
        if self.meta.names is not None:
            return self.meta.names
        nc = self.plan.num_classes if self.plan is not None else None
        if nc is None or nc == len(self.default_names):
            return self.default_names
        return tuple(f"class_{i}" for i in range(nc))

    # -- pipeline -----------------------------------------------------------------------
    def postprocess(
        self, outputs: dict[str, np.ndarray], transforms: Sequence[LetterboxTransform], **overrides: Any
    ) -> list[Detections]:
        """Decode, NMS and map boxes back to each original image."""
        plan = self.plan
        assert plan is not None
        if not plan.resolved or not self._validated:
            dec = get_decoder(plan.decoder)
            if not plan.resolved:
                try:
                    plan = self.plan = dec.refine(plan, outputs)
                except ModelOutputError as e:  # name the model
                    raise ModelOutputError(f"{self.backend.model_path.name}: {e}") from e
            if not self._validated:
                why = dec.check(plan, outputs, tuple(transforms[0].dst_shape))
                if why:
                    advice = "" if "pass " in why else ". Open it with its own family (Detector.from_file, or family=)"
                    raise ModelOutputError(
                        f"{self.backend.model_path.name}: the first inference contradicts layout {plan.decoder!r} "
                        f"of family {self.family or 'yolov6'}: {why}{advice}"
                    )
                self._validated = True
                self._warn_if_degenerate(dec, plan, outputs, tuple(transforms[0].dst_shape))
                if self.input_size_source == InputSizeSource.DEFAULT:
                    h, w = self.input_hw
                    warnings.warn(
                        f"{self.backend.model_path.name}: the model declares no input size (dynamic H, W, no "
                        f"metadata, not a hub file): running at family {self.family or 'yolov6'}'s default {h}x{w}. "
                        f"Pass input_size= (lite: --input-size) with the size the model was trained for",
                        AssumedDefaultWarning,
                        stacklevel=3,
                    )
        hw = transforms[0].dst_shape
        opts = self._options(overrides)
        try:
            per_image = run_plan(plan, outputs, hw, opts)
        except ModelOutputError as e:  # name the model and the engine
            raise ModelOutputError(f"{self.backend.model_path.name} on backend {self.backend.name!r}: {e}") from e
        if self._instance_fields:
            pairs = enumerate(zip(per_image, transforms, strict=False))
            return [self._with_instances(c, t, outputs, i) for i, (c, t) in pairs]
        return [self._to_detections(c, t) for c, t in zip(per_image, transforms, strict=False)]

    def _warn_if_degenerate(self, dec: Any, plan: Plan, outputs: dict[str, np.ndarray], hw: tuple[int, int]) -> None:
        """First inference: a `DegenerateOutputWarning` when the class scores are one value at every anchor (any
        model: a head that gives no information), or, for a quantized model, when its best score is below
        `DEGENERATE_SCORE` or its top `DEGENERATE_TOPK` scores are one value (saturated). A float model with varied
        but low scores is not judged: on a blank image it legitimately scores nothing."""
        block = dec.class_scores(plan, outputs)
        constant = block is not None and block.size > 1 and bool(np.isfinite(block).all()) and np.ptp(block) == 0
        top = dec.candidates(plan, outputs, hw, conf=0.0, multi_label=False, pre_nms_topk=DEGENERATE_TOPK)[0].scores
        best = float(top.max()) if top.size else 0.0
        distinct = int(np.unique(top).size)
        quantized = None
        if not constant:
            if best >= DEGENERATE_SCORE and not (top.size == DEGENERATE_TOPK and distinct == 1):
                return
            quantized = _is_quantized(self.backend)
            if not quantized:
                return
        if constant:
            what = (
                f"every class score is {float(block.flat[0]):g} at all {block.size} anchor-class pairs: the score "
                f"channel is constant on this input"
            )
        elif best < DEGENERATE_SCORE:
            what = f"its best score is {best:.4g} (below {DEGENERATE_SCORE})"
        else:
            what = f"its top {top.size} scores are all {best:.4g} (constant or saturated)"
        kind = "is quantized and its" if quantized else "on backend " + repr(self.backend.name) + ": its"
        warnings.warn(
            DegenerateOutputWarning(
                f"{self.backend.model_path.name} {kind} first inference finds nothing: {what}. If this image shows "
                "objects, the model's score head is broken (a quantization that destroyed it does this): compare with "
                "the fp32 model, or quantize it again keeping the head in float (lite quantize --eval)",
                best,
                distinct,
            ),
            stacklevel=4,
        )

    def _options(self, overrides: dict[str, Any]) -> DetectOptions:
        """The validated options of one call: the defaults (checked once while they stay the same) + overrides."""
        key = (self.conf, self.iou, self.max_det, self.nms, self.multi_label, self.pre_nms_topk)
        cached = self.__dict__.get("_options_cache")
        if cached is None or any(a is not b for a, b in zip(key, cached[0], strict=True)):
            cached = self._options_cache = (key, DetectOptions(*key))
        return cached[1].updated(overrides) if overrides else cached[1]

    def _to_detections(self, c: Candidates, t: LetterboxTransform) -> Detections:
        # run_plan's finish() refused non-finite candidates before NMS; to_original maps finite boxes by a finite
        # ratio and clips them to the image, so they stay finite: nothing to re-check per detection
        return Detections._trusted(t.to_original(c.boxes), c.scores, c.class_ids, self.names)

    @property
    def task(self) -> str:
        """What the model's outputs are: ``"detect"`` (boxes), ``"segment"`` (boxes and masks) or ``"pose"``
        (boxes and keypoints); its decoder's task."""
        return get_decoder(self.plan.decoder).task if self.plan is not None else "detect"

    @property
    def _instance_fields(self) -> bool:
        return self.plan is not None and get_decoder(self.plan.decoder).task != "detect"

    def _with_instances(
        self, c: Candidates, t: LetterboxTransform, outputs: Mapping[str, np.ndarray], index: int
    ) -> Detections:
        """Detections with the task's masks or keypoints, built for the kept candidates only."""
        assert self.plan is not None
        fields = get_decoder(self.plan.decoder).instance_fields(self.plan, c, outputs, index, t)
        if "keypoints" in fields:
            names, skeleton = self._keypoint_names(fields["keypoints"].shape[1])
            fields.update(keypoint_names=names, skeleton=skeleton)
        return Detections._trusted(t.to_original(c.boxes), c.scores, c.class_ids, self.names, **fields)

    def _keypoint_names(self, k: int) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
        """Keypoint names and skeleton: the metadata's ``kpt_names`` when it gives ``k`` of them, COCO's for a
        17-keypoint person model, else none."""
        from lite.data.coco import COCO_KEYPOINT_NAMES, COCO_SKELETON
        from lite.data.metadata import parse_value

        given = self.meta.extra.get("kpt_names")
        if given:
            value = parse_value(given)
            names = list(value.get(0, value.get("0", [])) if isinstance(value, dict) else value)
            if len(names) == k and all(isinstance(n, str) for n in names):
                return tuple(names), ()
        if k == len(COCO_KEYPOINT_NAMES) and self.names[:1] == ("person",):
            return COCO_KEYPOINT_NAMES, COCO_SKELETON
        return (), ()

    def detect(self, image: Any, **overrides: Any) -> Detections:
        """Detect objects in one image.

        Args:
            image: BGR uint8 array (OpenCV's convention), grayscale or BGRA array, float image in
                [0, 1], a path, or a PIL image.
            **overrides: Per-call ``conf``, ``iou``, ``max_det``, ``nms``, ``multi_label``, ``pre_nms_topk``.

        Returns:
            Detections with boxes in the original image's pixels, sorted by score.
        """
        tensor, t = self._feed(load_image(image))
        return self.postprocess(self.infer(tensor), [t], **overrides)[0]

    __call__ = detect

    def detect_batch(self, images: Iterable[Any], **overrides: Any) -> list[Detections]:
        """Detect objects in several images, using the model's batch dimension when it allows.

        A model with a dynamic batch runs the images in one call; a fixed batch B > 1 runs them in
        chunks of B (the last chunk padded); a batch of 1 runs them one by one.

        Args:
            images: An iterable of images (anything `detect` takes), a ``(N, H, W, C)`` array, or one
                path, folder or glob (a string is a source, not a sequence of characters).
            **overrides: Per-call options, as for `detect`.
        """
        imgs = [load_image(im) for im in batch_sources(images)]
        if not imgs:
            return []
        fixed = self.batch_size
        if not self.backend.supports_batch or fixed == 1:
            try:
                return list(self.detect_stream(imgs, **overrides))
            except StreamError as e:  # keep the error types of detect() for a batch
                raise e.__cause__ from None  # type: ignore[misc]
        chunk = fixed or len(imgs)
        out: list[Detections] = []
        for i in range(0, len(imgs), chunk):
            part = imgs[i : i + chunk]
            if self.fused:
                tensor, transforms = self._letterbox.canvas_batch(part)
            else:
                tensor, transforms = self._letterbox.batch(part)
            if fixed and len(part) < fixed:
                pad = np.repeat(tensor[-1:], fixed - len(part), axis=0)
                tensor = np.concatenate([tensor, pad])
            out += self.postprocess(self.infer(tensor), transforms, **overrides)[: len(part)]
        return out

    def infer(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Run the backend on a prepared ``(B, 3, H, W)`` tensor, or on ``(B, H, W, 3)`` ``uint8``
        canvases when the backend normalises them itself (`fused`)."""
        if tensor.dtype == np.uint8 and self.fused:
            return self.backend.infer_canvas(tensor)
        return super().infer(tensor)

    def _feed(self, img: np.ndarray, fresh: bool = False) -> tuple[np.ndarray, LetterboxTransform]:
        """What `detect` feeds `infer`, reused per thread (no new array per call): with a
        fused backend the cached ``(1, H, W, 3)`` canvas, else a cached float tensor. Consume it
        before this thread's next call. ``fresh``: a new array instead, for a caller that keeps it."""
        if self.fused:
            canvas, t = self._letterbox.canvas(img)
            return (canvas[None].copy() if fresh else canvas[None]), t
        if fresh:
            return self._letterbox(img)  # normalised straight into a new tensor (no cached one to copy)
        cache = self.__dict__.get("_tensor_cache")
        if cache is None:
            cache = self._tensor_cache = TensorCache()
        return tensor_into(self._letterbox, img, cache)

    def detect_stream(
        self,
        images: Iterable[Any],
        *,
        depth: int = 2,
        return_images: bool = False,
        on_error: str = "raise",
        **overrides: Any,
    ) -> Iterator[Detections] | Iterator[tuple[np.ndarray, Detections]]:
        """Detect objects in a stream of images, loading the next one while the engine runs this one.

        A generator over any iterable (paths, arrays, video frames): a worker thread reads and
        letterboxes ahead, the engine runs in the calling thread, a second worker post-processes
        behind it (see [`lite.data.stream`][lite.data.stream]). Results come in input order; a failing item raises
        [`StreamError`][lite.core.errors.StreamError] (index, source, stage) after every earlier result, and
        closing the generator stops and joins the workers.

        Args:
            images: Anything `detect` takes, one per item; or one source string as `lite.data.sources`
                reads it (a folder, a glob, a video, a camera index, an ``rtsp://`` / ``http://`` stream,
                a ``.txt`` list of sources). A source that fails ends the stream with `StreamError`
                whose ``__cause__`` is the [`SourceError`][lite.core.errors.SourceError].
            depth: Items allowed to wait between two stages.
            return_images: Yield ``(image, detections)`` with the loaded BGR image (for drawing).
            on_error: A failing item: ``"raise"``, ``"skip"`` or ``"record"`` (yield its `StreamError`).
            **overrides: Per-call options as for `detect`.
        """
        from lite.data.stream import overlapped

        self._options(dict(overrides))  # a bad option fails here, not in a worker thread
        if isinstance(images, str | Path) or isinstance(images, int) and not isinstance(images, bool):
            from lite.data.sources import open_sources  # one source string: a folder, glob, video, camera, stream, list

            images = (frame.image for frame in open_sources(images))

        def prepare(src: Any) -> tuple[np.ndarray, np.ndarray, LetterboxTransform]:
            img = load_image(src)
            x, t = self._feed(img, fresh=True)  # the item waits in a queue past this thread's next call
            return img, x, t

        def finish(p: tuple[np.ndarray, np.ndarray, LetterboxTransform], outs: dict[str, np.ndarray]) -> Any:
            d = self.postprocess(outs, [p[2]], **dict(overrides))[0]
            return (p[0], d) if return_images else d

        return overlapped(images, prepare, lambda p: self.infer(p[1]), finish, depth=depth, on_error=on_error)

    def track(self, source: Any, *, tracker: str = "bytetrack", **options: Any) -> Iterator[tuple[Any, Detections]]:
        """Detect and track objects in a source: ``(frame, detections with tracker_id)`` per frame.

        Delegates to [`lite.cv.track.track_source`][lite.cv.track.track_source] (one tracker state per source;
        the ``trackers`` package's ByteTrack, SORT or OC-SORT).

        Args:
            source: A source string as `lite.data.sources` reads it (video, folder, camera index, stream URL, list).
            tracker: ``"bytetrack"`` (default), ``"sort"`` or ``"ocsort"``.
            **options: ``tracker_options`` (dict for the tracker) and `lite.data.sources.open_sources` options.
        """
        from lite.cv.track import track_source

        return track_source(self, source, tracker=tracker, **options)

    # -- description, lifetime ------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the detector knows about its model (for ``lite info``)."""
        base = super().info()
        spec, plan = self.spec, self.plan
        out = {k: base[k] for k in ("model", "backend", "inputs", "outputs")}
        out.update(
            {
                "family": self.family or "yolov6",
                "family_reasons": list(self.family_reasons),
                "decoder": plan.decoder if plan else None,
                "layout": spec.describe() if spec else (plan.describe() if plan else None),
                **{k: base[k] for k in ("input_size", "input_size_source", "dynamic_input", "batch", "preprocess")},
                "fused_preprocess": self.fused,
                "strides": list(self.strides) if self.strides else None,
                "max_stride": self.max_stride,
                "num_classes": len(self.names),
                "names": list(self.names),
                "metadata": base["metadata"],
            }
        )
        return out

    def __enter__(self) -> Detector:
        return self

    def __repr__(self) -> str:
        layout = self.spec.layout.value if self.spec else (self.plan.decoder if self.plan else "?")
        return (
            f"{type(self).__name__}({self.backend.model_path.name!r}, backend={self.backend.name!r}, "
            f"input={self.input_hw[0]}x{self.input_hw[1]}, layout={layout}, classes={len(self.names)})"
        )


def refuse_other_task(
    backend: Backend, shapes: Mapping[str, tuple], meta: Any, tasks: Sequence[str], family: str | None
) -> tuple[str, str] | None:
    """Refuse outputs of a task that ``tasks`` (a family's) does not include, before any of its decoders reads
    them; the message names the task found, why, and the API (or families) that read it.

    Returns:
        ``(task, reason)`` when the metadata or the outputs say a task other than box detection (one of
        ``tasks``), else None.

    Raises:
        TaskNotSupportedError: The metadata or the output signature says another task.
    """
    found = find_task(shapes, backend.metadata, len(meta.names) if meta.names is not None else None)
    if found is None or found[0] in tasks:
        return found
    task, reason = found
    readers = [r.name for r in RECORDS.values() if task in r.tasks]
    if task in TASK_APIS:
        use = TASK_APIS[task] + (f", or as family {' / '.join(readers)}" if task != "classify" else "")
    else:
        use = f"lite reads no {task} models; use a detection export of the model"
    who = f"family {family!r}" if family else "this API"
    raise TaskNotSupportedError(
        f"{backend.model_path.name}: a {task} model, which {who} does not read ({', '.join(tasks)} only): "
        f"{reason}. {use}",
        task,
        reason,
    )


def _owners_of(keywords: Sequence[str]) -> str:
    """``"legacy_normalization is a keyword of family yolox"`` for each keyword, from the family records."""
    return "; ".join(
        f"{k} is a keyword of family {'/'.join(r.name for r in RECORDS.values() if k in r.knob_names())}"
        for k in keywords
    )


def _describe_shapes(shapes: Mapping[str, tuple]) -> str:
    return ", ".join(f"{n}{list(s)}" for n, s in shapes.items())

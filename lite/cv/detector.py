"""The abstract detector: one pipeline (letterbox → backend → decode → NMS → Detections) for any engine.

A model class (such as :class:`lite.cv.YOLOv6`) only sets defaults; the pipeline is written once
here and runs unchanged on every backend, because backends only speak tensors and the decode
module reads the layout from the model's outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lite import backends
from lite.backends.base import Backend
from lite.coco import COCO_NAMES
from lite.detections import Detections
from lite.errors import InputError, ModelOutputError, StreamError
from lite.io import load_image
from lite.metadata import ModelMeta, read_model_meta
from lite.ops.canvas import canvas_batch
from lite.ops.decode import Candidates, DecodeSpec, Layout, decode, detect_layout, infer_strides, refine_layout
from lite.ops.letterbox import Letterbox, LetterboxTransform
from lite.ops.preprocess import PreprocessConfig

_NMS_MODES = ("class_aware", "agnostic", "blend")


def _size2(size: int | Sequence[int], what: str) -> tuple[int, int]:
    if isinstance(size, int | np.integer):
        size = (int(size), int(size))
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) <= 0:
        raise InputError(f"{what}: expected a positive int or (height, width), got {size!r}")
    return size  # type: ignore[return-value]


class Detector:
    """An object detector on any backend.

    Args:
        model: Model file (``.onnx``, ``.param``, ``.mnn``, ``.engine``...), a hub name such as
            ``"yolov6lite-s"``, or an opened :class:`~lite.backends.Backend`.
        backend: Backend name (``"ort"``, ``"ncnn"``, ``"mnn"``, ``"trt"``); None picks one from the suffix.
        device: Device for the backend (``"cpu"``, ``"cuda:0"``...); None: the backend's default
            (CPU for ONNX Runtime, NCNN and MNN; ``cuda:0`` for TensorRT).
        threads: Engine thread count (None: engine default).
        input_size: Network input ``int`` or ``(H, W)`` for models with dynamic H, W (default: the
            model's metadata, else the class default). A model with a fixed input ignores nothing:
            asking for another size is an error.
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
        strides: Strides per level (default: metadata, else inferred from the feature maps).
        layout: Force the output layout (``"decoded"``, ``"anchor_grid"``, ``"heads"``, ``"end2end"``).
        box_first: ``heads`` only: force the channel order (True: ``[l,t,r,b,classes]``); default: the
            model's metadata key ``box_first``, else detected from the first outputs.
        sigmoid: ``heads`` only: force whether class outputs are logits needing a sigmoid; default: the
            metadata key ``sigmoid``, else detected.
        fuse_preprocess: Let a backend that can (ONNX Runtime, NCNN) take the letterbox canvas and
            normalise it natively (:meth:`Backend.fuse_preprocess`); ``False`` always feeds float NCHW.
        **backend_options: Passed to the backend (e.g. ``allow_fallback``, ``optimization``, ``fp16``).
    """

    #: Input size for dynamic-shape models when nothing else says.
    default_input_size: ClassVar[tuple[int, int]] = (640, 640)
    #: Class names when the model carries none and has this many classes.
    default_names: ClassVar[tuple[str, ...]] = COCO_NAMES
    #: The family's input preprocessing (colour order, scale, mean/std, padding); YOLOv6's by default.
    preprocess_config: ClassVar[PreprocessConfig] = PreprocessConfig()

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
        conf: float = 0.25,
        iou: float = 0.45,
        max_det: int = 100,
        nms: str = "class_aware",
        multi_label: bool = False,
        pre_nms_topk: int = 3000,
        names: Sequence[str] | None = None,
        strides: Sequence[int] | None = None,
        layout: str | None = None,
        box_first: bool | None = None,
        sigmoid: bool | None = None,
        fuse_preprocess: bool = True,
        **backend_options: Any,
    ) -> None:
        if isinstance(model, Backend):
            self.backend = model
        else:
            path = self._resolve(model)
            if device is not None:
                backend_options["device"] = device
            self.backend = backends.create(path, backend, threads=threads, **backend_options)
        self.conf, self.iou, self.max_det = float(conf), float(iou), int(max_det)
        self.multi_label, self.pre_nms_topk = bool(multi_label), int(pre_nms_topk)
        self.nms = nms
        self._check_thresholds(self.conf, self.iou, self.max_det, self.nms)

        ins = self.backend.inputs
        if len(ins) != 1:
            raise InputError(f"a detector needs a model with one image input; {self.backend.model_path} has {ins}")
        self.input_spec = ins[0]
        self.input_name = self.input_spec.name
        self.meta: ModelMeta = read_model_meta(self.backend.model_path, self.backend.metadata).merged(
            ModelMeta(
                names=tuple(names) if names is not None else None,
                strides=tuple(int(s) for s in strides) if strides is not None else None,
                layout=layout,
            )
        )
        self._fixed_hw = self._static_hw()
        self.input_hw = self._choose_input_hw(input_size)
        if auto and self._fixed_hw is not None:
            raise InputError(
                f"auto=True (rectangular inference) needs a model with dynamic H, W; "
                f"{self.backend.model_path.name} is fixed at {self._fixed_hw[0]}x{self._fixed_hw[1]}"
            )
        self.auto = bool(auto)
        self._forced = {
            k: v
            for k, v in (
                ("box_first", box_first if box_first is not None else _meta_bool(self.meta, "box_first")),
                ("sigmoid", sigmoid if sigmoid is not None else _meta_bool(self.meta, "sigmoid")),
            )
            if v is not None
        }
        self.spec: DecodeSpec | None = self._spec_from_outputs(
            {s.name: s.shape for s in self.backend.outputs} if all(s.rank_known for s in self.backend.outputs) else None
        )
        if self.spec is None:  # the engine does not declare output shapes (NCNN): look once
            self._probe()
        self.max_stride = self._max_stride()
        if self._fixed_hw is None and any(d % self.max_stride for d in self.input_hw):
            near = [
                (d // self.max_stride * self.max_stride or self.max_stride, -(-d // self.max_stride) * self.max_stride)
                for d in self.input_hw
            ]
            raise InputError(
                f"input_size: expected multiples of the model's largest stride {self.max_stride}, got "
                f"{self.input_hw[0]}x{self.input_hw[1]}; use e.g. {near[0][1]}x{near[1][1]} "
                f"or {near[0][0]}x{near[1][0]}"
            )
        self._letterbox = Letterbox(
            self.input_hw, stride=self.max_stride, auto=self.auto, scaleup=scaleup, config=self.preprocess_config
        )
        self.scaleup = scaleup
        #: True when the backend takes the uint8 canvas and normalises it itself.
        self.fused = bool(fuse_preprocess) and self.backend.fuse_preprocess(self.preprocess_config)

    # -- construction helpers ------------------------------------------------------------
    @staticmethod
    def _resolve(model: str | Path) -> Path:
        p = Path(model)
        if p.exists() or p.suffix:
            return p
        from lite.hub import resolve  # a bare name such as "yolov6lite-s"

        return resolve(str(model))

    @staticmethod
    def _check_thresholds(conf: float, iou: float, max_det: int, nms: str) -> None:
        if not 0.0 <= conf <= 1.0:
            raise InputError(f"conf: expected a score threshold in [0, 1], got {conf}")
        if not 0.0 <= iou <= 1.0:
            raise InputError(f"iou: expected an IoU threshold in [0, 1], got {iou}")
        if max_det < 1:
            raise InputError(f"max_det: expected a positive integer, got {max_det}")
        if nms not in _NMS_MODES:
            raise InputError(f"nms: expected one of {_NMS_MODES}, got {nms!r}")

    def _static_hw(self) -> tuple[int, int] | None:
        s = self.input_spec
        if not s.rank_known:
            return None
        if len(s.shape) != 4:
            raise InputError(f"a detector needs an NCHW image input; {self.input_name!r} has shape {s.shape}")
        c, h, w = s.shape[1:]
        if isinstance(c, int) and c != 3:
            raise InputError(f"a detector needs a 3-channel input; {self.input_name!r} has {c} channels")
        return (h, w) if isinstance(h, int) and isinstance(w, int) else None

    def _choose_input_hw(self, input_size: int | Sequence[int] | None) -> tuple[int, int]:
        if self._fixed_hw is not None:
            if input_size is not None and _size2(input_size, "input_size") != self._fixed_hw:
                raise InputError(
                    f"input_size: {self.backend.model_path.name} has a fixed input of "
                    f"{self._fixed_hw[0]}x{self._fixed_hw[1]}, got input_size={input_size}; "
                    f"re-export the model with that size or with dynamic H, W"
                )
            return self._fixed_hw
        if input_size is not None:
            return _size2(input_size, "input_size")
        if self.meta.input_size is not None:
            return self.meta.input_size
        return self.default_input_size

    def _spec_from_outputs(self, shapes: dict[str, tuple] | None) -> DecodeSpec | None:
        if shapes is None:
            return None
        names = self.meta.names
        spec = detect_layout(
            shapes,
            num_classes=len(names) if names is not None else None,
            layout=self.meta.layout,
            strides=self.meta.strides,
            input_hw=self.input_hw,
        )
        if self._forced:
            spec = replace(spec, **self._forced)
            if spec.layout is Layout.HEADS and len(self._forced) == 2:
                spec = replace(spec, resolved=True)
        return spec

    def _probe(self) -> None:
        blank = np.full((1, 3, *self.input_hw), 114 / 255, np.float32)
        outs = self.backend.infer({self.input_name: blank})
        self.spec = self._spec_from_outputs({k: v.shape for k, v in outs.items()})

    def _max_stride(self) -> int:
        strides = self.strides
        return max(strides) if strides else 32

    @property
    def strides(self) -> tuple[int, ...] | None:
        """Strides per level: given or from metadata, else inferred from the outputs (None if unknown)."""
        if self.meta.strides:
            return self.meta.strides
        spec = self.spec
        if spec is None:
            return None
        if spec.strides:
            return spec.strides
        if spec.layout is Layout.HEADS:
            return tuple(8 * 2**i for i in range(len(spec.names)))
        if spec.layout in (Layout.DECODED, Layout.ANCHOR_GRID):
            out = next((o for o in self.backend.outputs if o.name == spec.names[0]), None)
            n = out.dim(1) if out is not None else None
            if isinstance(n, int):
                return infer_strides(n, self.input_hw)
        return None

    # -- properties ---------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """Class names by class id."""
        if self.meta.names is not None:
            return self.meta.names
        nc = self.spec.num_classes if self.spec is not None else None
        if nc is None or nc == len(self.default_names):
            return self.default_names
        return tuple(f"class_{i}" for i in range(nc))

    @property
    def batch_size(self) -> int | None:
        """The model's fixed batch size, or None when the batch dimension is dynamic."""
        b = self.input_spec.dim(0)
        return b if isinstance(b, int) else None

    # -- pipeline -----------------------------------------------------------------------
    def preprocess(self, image: Any) -> tuple[np.ndarray, LetterboxTransform]:
        """Load and letterbox one image: ``((1, 3, H, W) float32, transform)``.

        With a fused backend (:attr:`fused`) the tensor is the ``(1, H, W, 3)`` ``uint8`` BGR canvas
        the engine normalises itself.
        """
        if self.fused:
            canvas, t = self._letterbox.canvas(load_image(image))
            return canvas[None].copy(), t
        return self._letterbox(load_image(image))

    def _feed(self, img: np.ndarray) -> tuple[np.ndarray, LetterboxTransform]:
        """:meth:`preprocess` without the copy: a fused feed is this thread's cached canvas."""
        if self.fused:
            canvas, t = self._letterbox.canvas(img)
            return canvas[None], t
        return self._letterbox(img)

    def infer(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Run the backend on a prepared (B, 3, H, W) tensor."""
        return self.backend.infer({self.input_name: tensor})

    def postprocess(
        self, outputs: dict[str, np.ndarray], transforms: Sequence[LetterboxTransform], **overrides: Any
    ) -> list[Detections]:
        """Decode, NMS and map boxes back to each original image."""
        if self.spec is None:
            self.spec = self._spec_from_outputs({k: v.shape for k, v in outputs.items()})
        if not self.spec.resolved:
            self.spec = refine_layout(self.spec, outputs)
            if self._forced:  # what the caller or the metadata said wins over what the values suggest
                self.spec = replace(self.spec, **self._forced)
        hw = transforms[0].dst_shape
        opts = self._options(overrides)
        per_image = decode(outputs, self.spec, hw, **opts)
        return [self._to_detections(c, t) for c, t in zip(per_image, transforms, strict=False)]

    def _options(self, overrides: dict[str, Any]) -> dict[str, Any]:
        opts = {
            "conf": self.conf,
            "iou": self.iou,
            "max_det": self.max_det,
            "nms_mode": self.nms,
            "multi_label": self.multi_label,
            "pre_nms_topk": self.pre_nms_topk,
        }
        if "nms" in overrides:
            overrides["nms_mode"] = overrides.pop("nms")
        unknown = set(overrides) - set(opts)
        if unknown:
            raise InputError(f"unknown detect() options {sorted(unknown)}; expected some of {sorted(opts)} or 'nms'")
        opts.update({k: v for k, v in overrides.items() if v is not None})
        self._check_thresholds(opts["conf"], opts["iou"], opts["max_det"], opts["nms_mode"])
        return opts

    def _to_detections(self, c: Candidates, t: LetterboxTransform) -> Detections:
        boxes = t.to_original(c.boxes)
        # decode guarantees dtypes, shapes and x1 <= x2; only a broken model can give non-finite values
        if not (np.isfinite(boxes).all() and np.isfinite(c.scores).all()):
            raise ModelOutputError(
                f"{self.backend.model_path.name} produced non-finite boxes or scores (NaN/inf) on backend "
                f"{self.backend.name!r}; check the model (e.g. fp16 overflow) or run it with fp16 off"
            )
        return Detections._trusted(boxes, c.scores, c.class_ids, self.names)

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
        """
        imgs = [load_image(im) for im in images]
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
                tensor, transforms = canvas_batch(self._letterbox, part)
            else:
                tensor, transforms = self._letterbox.batch(part)
            if fixed and len(part) < fixed:
                pad = np.repeat(tensor[-1:], fixed - len(part), axis=0)
                tensor = np.concatenate([tensor, pad])
            out += self.postprocess(self.infer(tensor), transforms, **overrides)[: len(part)]
        return out

    def detect_stream(
        self, images: Iterable[Any], *, depth: int = 2, return_images: bool = False, **overrides: Any
    ) -> Iterator[Detections] | Iterator[tuple[np.ndarray, Detections]]:
        """Detect objects in a stream of images, loading the next one while the engine runs this one.

        A generator over any iterable (paths, arrays, video frames): a worker thread reads and
        letterboxes ahead, the engine runs in the calling thread, a second worker post-processes
        behind it (see :mod:`lite.stream`). Results come in input order; a failing item raises
        :class:`~lite.errors.StreamError` (index, source, stage) after every earlier result, and
        closing the generator stops and joins the workers.

        Args:
            images: Anything :meth:`detect` takes, one per item.
            depth: Items allowed to wait between two stages.
            return_images: Yield ``(image, detections)`` with the loaded BGR image (for drawing).
            **overrides: Per-call options as for :meth:`detect`.
        """
        from lite.stream import overlapped

        self._options(dict(overrides))  # a bad option fails here, not in a worker thread

        def prepare(src: Any) -> tuple[np.ndarray, np.ndarray, LetterboxTransform]:
            img = load_image(src)
            return (img, *self.preprocess(img))

        def finish(p: tuple[np.ndarray, np.ndarray, LetterboxTransform], outs: dict[str, np.ndarray]) -> Any:
            d = self.postprocess(outs, [p[2]], **dict(overrides))[0]
            return (p[0], d) if return_images else d

        return overlapped(images, prepare, lambda p: self.infer(p[1]), finish, depth=depth)

    def _detect_loaded(self, img: np.ndarray, overrides: dict[str, Any]) -> Detections:
        tensor, t = self._feed(img)
        return self.postprocess(self.infer(tensor), [t], **dict(overrides))[0]

    # -- description, lifetime ------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the detector knows about its model (for ``lite info``)."""
        return {
            "model": str(self.backend.model_path),
            "backend": self.backend.name,
            "inputs": [str(s) for s in self.backend.inputs],
            "outputs": [str(s) for s in self.backend.outputs],
            "layout": self.spec.describe() if self.spec else None,
            "input_size": list(self.input_hw),
            "dynamic_input": self._fixed_hw is None,
            "batch": self.batch_size or "dynamic",
            "fused_preprocess": self.fused,
            "strides": list(self.strides) if self.strides else None,
            "max_stride": self.max_stride,
            "num_classes": len(self.names),
            "names": list(self.names),
            "metadata": self.backend.metadata,
        }

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()

    def __enter__(self) -> Detector:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        layout = self.spec.layout.value if self.spec else "?"
        return (
            f"{type(self).__name__}({self.backend.model_path.name!r}, backend={self.backend.name!r}, "
            f"input={self.input_hw[0]}x{self.input_hw[1]}, layout={layout}, classes={len(self.names)})"
        )


def _meta_bool(meta: ModelMeta, key: str) -> bool | None:
    """A boolean from the model's extra metadata (``"true"``/``"false"``/``"1"``/``"0"``), or None."""
    value = meta.extra.get(key)
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise InputError(f"model metadata {key}={value!r}: expected true or false")

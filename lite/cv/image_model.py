"""The task-agnostic image-model layer: open a model, read its input and metadata, choose the input size,
preprocess images per the family's `PreprocessConfig`, and run the engine.

[`Detector`][lite.cv.detector.Detector] adds the detection part (output layout, decode, NMS, Detections);
a later task (classification, masks) sits beside it on the same base.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lite import backends
from lite.backends.base import Backend, TensorSpec
from lite.core.errors import InputError, LiteError
from lite.cv.resolve import SizeSource, as_size, input_size_for
from lite.data.io import load_image
from lite.data.metadata import ModelMeta, read_model_meta
from lite.ops.letterbox import Letterbox, LetterboxTransform
from lite.ops.preprocess import PreprocessConfig

__all__ = ["ImageModel", "InputSizeSource"]


#: Values of ``info()["input_size_source"]``: why a model runs at its input size (`lite.cv.resolve.SizeSource`).
InputSizeSource = SizeSource
_size2 = as_size


class ImageModel:
    """A model that takes one NCHW image tensor, on any backend.

    Args:
        model: Model file, a hub name such as ``"yolov6lite-s"``, or an opened [`Backend`][lite.backends.Backend].
        backend: Backend name; None picks one from the suffix.
        device: Device for the backend (None: the backend's default).
        threads: Engine thread count (None: engine default).
        input_size: Network input ``int`` or ``(H, W)`` for models with dynamic H, W (default: the model's
            metadata, else the hub manifest's size, else the family default).
        auto: Rectangular inference (dynamic-shape models only).
        scaleup: Allow the letterbox to enlarge small images.
        names: Class names overriding the metadata.
        strides: Strides per level overriding the metadata.
        layout: Output layout name overriding the metadata.
        preprocess: A `PreprocessConfig` overriding the family's ``preprocess_config``.
        **backend_options: Passed to the backend.
    """

    #: Input size for dynamic-shape models when nothing else says.
    default_input_size: ClassVar[tuple[int, int]] = (640, 640)
    #: The family's input preprocessing (colour order, scale, mean/std, padding); YOLOv6's by default.
    preprocess_config: ClassVar[PreprocessConfig] = PreprocessConfig()

    #: Dynamic inputs must be a multiple of this (None: the model's largest stride).
    input_multiple: ClassVar[int | None] = None

    _source_name: str | None = None  # the hub name or path the model came from (set by _open)

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
        names: Sequence[str] | None = None,
        strides: Sequence[int] | None = None,
        layout: str | None = None,
        preprocess: PreprocessConfig | None = None,
        **backend_options: Any,
    ) -> None:
        if preprocess is not None and not isinstance(preprocess, PreprocessConfig):
            raise InputError(f"preprocess: expected a lite.ops.preprocess.PreprocessConfig; got {preprocess!r}")
        self._user_preprocess = preprocess is not None
        if preprocess is not None:
            self.preprocess_config = preprocess  # type: ignore[misc]
        self.backend = self._open(model, backend, device, threads, backend_options)
        self.input_spec = self._image_input()
        self.input_name = self.input_spec.name
        self.meta: ModelMeta = self._read_meta(names, strides, layout)
        if preprocess is None and self.meta.extra.get("preprocess"):
            self.preprocess_config = preprocess_from_metadata(  # type: ignore[misc]
                self.meta.extra["preprocess"], self.meta.source_of("preprocess")
            )
            self._user_preprocess = True  # said by the model: no family default or layout override replaces it
        self._fixed_hw = self._static_hw()
        self.input_hw, self.input_size_source = self._choose_input_hw(input_size)
        if auto and self._fixed_hw is not None:
            raise InputError(
                f"auto=True (rectangular inference) needs a model with dynamic H, W; "
                f"{self.backend.model_path.name} is fixed at {self._fixed_hw[0]}x{self._fixed_hw[1]}"
            )
        self.auto = bool(auto)
        self.scaleup = scaleup
        self._setup_outputs()
        self.max_stride = self._max_stride()
        multiple = self.input_multiple or self.max_stride
        self._check_multiple(multiple)
        cfg = self.preprocess_config
        self._letterbox = Letterbox(
            self.input_hw,
            stride=multiple,
            auto=self.auto or (cfg.pad_to_stride and self._fixed_hw is None),
            scaleup=scaleup,
            config=cfg,
        )

    @classmethod
    def from_file(
        cls, model: str | Path | Backend, *, family: str | None = None, task: str | None = None, **kwargs: Any
    ) -> ImageModel:
        """Open any model as what it is: the family and task come from ``family=``, the metadata or the outputs.

        Returns the family class's instance: a [`Detector`][lite.cv.detector.Detector] for box detection,
        segmentation (``detect`` gives `Detections` with ``masks``) and pose (``keypoints``), a
        [`Classifier`][lite.cv.classifier.Classifier] for image classification (``classify`` gives
        `Classifications`). ``model.task`` says which.

        Args:
            model: Model file, hub name or opened backend.
            family: Family name (None: read from the model).
            task: ``"detect"``, ``"segment"``, ``"pose"`` or ``"classify"``: refuse a model of another task
                (`TaskNotSupportedError` naming both); None: any.
            **kwargs: The family class's arguments (``backend``, ``device``, ``conf``, ``top_k``...).

        Example:
            ```python
            from lite.cv import ImageModel

            m = ImageModel.from_file("yolov8n-seg_int8_320.onnx")  # a YOLOv8 with m.task == "segment"
            print(m.task, m.detect("bus.jpg").masks.shape)
            # segment (4, 1080, 810)
            ```
        """
        from lite.cv.family import open_model

        if cls is not ImageModel:
            return open_model(model, family=family or getattr(cls, "family", None), task=task,
                              api=f"{cls.__name__}.from_file", **kwargs)  # fmt: skip
        return open_model(model, family=family, task=task, api="ImageModel.from_file", **kwargs)

    # -- construction helpers ------------------------------------------------------------
    def _open(
        self,
        model: str | Path | Backend,
        backend: str | None,
        device: str | None,
        threads: int | None,
        backend_options: dict[str, Any],
    ) -> Backend:
        """The opened backend: ``model`` itself when it is one, else the file (or hub name) opened."""
        if isinstance(model, Backend):
            if backend_options:
                raise InputError(
                    f"{', '.join(sorted(backend_options))}: backend options need a model file; the model given is "
                    f"an opened {model.name!r} backend (set its options when opening it). "
                    f"{type(self).__name__} takes {', '.join(self.knobs())}"
                )
            return model
        self._source_name = self._source_name or str(model)
        path = self._resolve(model)
        if device is not None:
            backend_options["device"] = device
        check_backend_options(path, backend, backend_options, self.knobs(), type(self).__name__)
        if backend_options.get("int8") and backend_options.get("calib_images") is not None:
            # TensorRT INT8 calibration sees images as this model does (YOLOX: BGR 0-255; YOLOv6: RGB /255 ...)
            backend_options["preprocess"] = self.preprocess_config
        return backends.create(path, backend, threads=threads, **backend_options)

    @classmethod
    def knobs(cls) -> tuple[str, ...]:
        """The keyword arguments this class takes besides ``model`` and ``backend`` (its own and its bases'),
        read from the ``__init__`` signatures; anything else is a backend option."""
        out: list[str] = []
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None or not issubclass(klass, ImageModel):
                continue
            for p in inspect.signature(init).parameters.values():
                if p.kind is p.KEYWORD_ONLY and p.name not in out:
                    out.append(p.name)
        return tuple(out)

    def _image_input(self) -> TensorSpec:
        """The model's one input (an image model has exactly one)."""
        ins = self.backend.inputs
        if len(ins) != 1:
            raise InputError(f"an image model needs a model with one image input; {self.backend.model_path} has {ins}")
        return ins[0]

    def _read_meta(self, names: Sequence[str] | None, strides: Sequence[int] | None, layout: str | None) -> ModelMeta:
        """The model's metadata (file, sidecar), overridden by what the caller gave."""
        return read_model_meta(self.backend.model_path, self.backend.metadata).merged(
            ModelMeta.from_arguments(names, strides, layout)
        )

    def _check_multiple(self, multiple: int) -> None:
        """A dynamic input size must be a multiple of ``multiple`` (the largest stride); say the nearest ones."""
        if self._fixed_hw is None and any(d % multiple for d in self.input_hw):
            near = [(d // multiple * multiple or multiple, -(-d // multiple) * multiple) for d in self.input_hw]
            raise InputError(
                f"input_size: expected multiples of the model's largest stride {multiple}, got "
                f"{self.input_hw[0]}x{self.input_hw[1]}; use e.g. {near[0][1]}x{near[1][1]} "
                f"or {near[0][0]}x{near[1][0]}"
            )

    @staticmethod
    def _resolve(model: str | Path) -> Path:
        p = Path(model)
        if p.exists() or p.suffix:
            return p
        from lite.hub import resolve  # a bare name such as "yolov6lite-s"

        return resolve(str(model))

    def _hub_input_size(self) -> tuple[int, int] | None:
        """The hub manifest's input size (see `hub_input_size`)."""
        return hub_input_size(self._source_name, self.backend.model_path)

    def _static_hw(self) -> tuple[int, int] | None:
        s = self.input_spec
        if not s.rank_known:
            return None
        if len(s.shape) != 4:
            raise InputError(f"an image model needs an NCHW image input; {self.input_name!r} has shape {s.shape}")
        c = s.shape[1]
        if isinstance(c, int) and c != 3:
            raise InputError(f"an image model needs a 3-channel input; {self.input_name!r} has {c} channels")
        return s.static_hw

    def _choose_input_hw(self, input_size: int | Sequence[int] | None) -> tuple[tuple[int, int], str]:
        return input_size_for(
            self._fixed_hw,
            input_size,
            self.meta.input_size,
            self._hub_input_size() if self._fixed_hw is None and input_size is None else None,
            tuple(self.default_input_size),  # type: ignore[arg-type]
            self.backend.model_path.name,
        )

    def _output_shapes(self) -> tuple[dict[str, tuple], bool]:
        """``(shapes, probed)``: the declared output shapes, or the shapes of one blank inference for shape-free
        engines (NCNN, MNN)."""
        outs = self.backend.outputs
        if all(s.rank_known for s in outs):
            return {s.name: tuple(s.shape) for s in outs}, False
        got = self.backend.infer({self.input_name: self._blank()})
        return {k: tuple(v.shape) for k, v in got.items()}, True

    def _setup_outputs(self) -> None:
        """Hook for the task layer: read the outputs (may change ``input_hw``). Default: nothing."""

    def _max_stride(self) -> int:
        """The largest stride the input must be a multiple of (default 32)."""
        return 32

    def _blank(self) -> np.ndarray:
        """A normalised all-padding ``(1, 3, H, W)`` tensor at ``input_hw`` (for probing shape-free engines)."""
        canvas = np.empty((*self.input_hw, 3), np.uint8)
        canvas[:] = np.array(self.preprocess_config.pad_bgr, np.uint8)
        from lite.ops.preprocess import normalize

        return normalize(canvas, self.preprocess_config)

    # -- properties ---------------------------------------------------------------------
    @property
    def batch_size(self) -> int | None:
        """The model's fixed batch size, or None when the batch dimension is dynamic."""
        b = self.input_spec.dim(0)
        return b if isinstance(b, int) else None

    # -- stages ------------------------------------------------------------------------
    def preprocess(self, image: Any) -> tuple[np.ndarray, LetterboxTransform]:
        """Load and letterbox one image: ``((1, 3, H, W) float32, transform)``."""
        return self._letterbox(load_image(image))

    def infer(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Run the backend on a prepared (B, 3, H, W) tensor."""
        return self.backend.infer({self.input_name: tensor})

    # -- description, lifetime ------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the model knows about itself (for ``lite info``)."""
        return {
            "model": str(self.backend.model_path),
            "backend": self.backend.name,
            "inputs": [str(s) for s in self.backend.inputs],
            "outputs": [str(s) for s in self.backend.outputs],
            "input_size": list(self.input_hw),
            "input_size_source": self.input_size_source,
            "dynamic_input": self._fixed_hw is None,
            "batch": self.batch_size or "dynamic",
            "preprocess": self.preprocess_config.describe(),
            "metadata": self.backend.metadata,
        }

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()

    def __enter__(self) -> ImageModel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def preprocess_from_metadata(value: str, source: str) -> PreprocessConfig:
    """The `PreprocessConfig` a model's metadata ``preprocess`` key holds (a JSON object of its fields, as
    `lite.export.export_classifier` writes it).

    Raises:
        InputError: Not a JSON object of `PreprocessConfig` fields; the message names where it came from.
    """
    import json

    try:
        fields = json.loads(value)
        if not isinstance(fields, dict):
            raise TypeError("not an object")
        return PreprocessConfig(**fields)
    except (ValueError, TypeError) as e:
        raise InputError(
            f"metadata 'preprocess' ({source}): expected a JSON object of PreprocessConfig fields, e.g. "
            f'{{"color": "rgb", "scale": 0.0039, "resize": "center_crop"}}; got {value[:120]!r} ({e}). Fix the '
            f"metadata or pass preprocess="
        ) from None


def check_backend_options(
    path: Path, backend: str | None, options: dict[str, Any], knobs: Sequence[str], owner: str
) -> None:
    """Refuse a keyword that is neither one of the model's ``knobs`` nor an option of the backend that opens ``path``.

    Raises:
        InputError: The message lists the model's keywords and the backend's options.
    """
    if not options:
        return
    try:
        info = backends.get(backend) if backend is not None else backends.get(backends.backend_for_path(path))
    except LiteError:
        return  # an unknown backend or suffix: backends.create says so with its own message
    info.check_options(options, owner=f"{owner} takes {', '.join(knobs)}")


def hub_input_size(source: str | None, path: Path) -> tuple[int, int] | None:
    """The hub manifest's input size: the model was given by hub name, or its file is a hub file (same name
    and sha256), so a model runs at the same size by path and by hub name."""
    if not source or Path(source).exists() or Path(source).suffix:
        return hub_size_of_file(path)
    from lite.hub import get

    try:
        return tuple(get(source).input_size)  # type: ignore[return-value]
    except Exception:  # noqa: BLE001 - not a hub name: no manifest size
        return None


def hub_size_of_file(path: Path) -> tuple[int, int] | None:
    """The manifest input size of the hub entry whose file ``path`` is (same name, recorded sha256), else None."""
    from lite.hub import get, list_models, sha256_file

    digest = None
    for name in list_models():
        entry = get(name)
        for fmt in entry.formats.values():
            for f in fmt.files:
                if f.file != path.name or not f.sha256 or not path.is_file():
                    continue
                digest = digest or sha256_file(path)
                if digest == f.sha256.lower():
                    return tuple(entry.input_size)  # type: ignore[return-value]
    return None

"""Image classifiers: one ``(B, C)`` row of class scores per image → `Classifications` (top-k).

`Classifier` reads any classifier export (ResNet, MobileNet, EfficientNet from torchvision or the ONNX Model
Zoo; ultralytics YOLOv8/YOLO11-cls). Its preprocessing comes from a family record (`lite.cv.records`):

* ``yolov8-cls`` (`YOLOv8Classifier`): ultralytics metadata names it; ``classify_transforms``: RGB, /255, the
  short side resized to the input size and the centre cut out;
* ``imagenet`` (`ImageNetClassifier`): the ImageNet preset (RGB, short side 256, centre crop 224, /255,
  ImageNet mean / std), used when nothing in the file says how it was trained, with one warning that names the
  preset and how to pass another.

Class names come from ``names=``, a labels file (``labels=``: one name a line, line number = class id) or the
model's metadata; never invented (without them a class is ``class_<id>``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lite.backends.base import Backend
from lite.core.errors import AssumedDefaultWarning, InputError, ModelNotFoundError, TaskNotSupportedError
from lite.cv.family import named_family, register_family
from lite.cv.image_model import ImageModel
from lite.cv.records import RECORDS, TASK_APIS, TASK_RESULTS, FamilyRecord
from lite.cv.resolve import SizeSource
from lite.data.classifications import Classifications
from lite.data.io import batch_sources, load_image
from lite.ops.classify import top_k
from lite.ops.decoders import Plan, get_decoder, match_outputs
from lite.ops.decoders.tasks import ClassifyDecoder
from lite.ops.preprocess import PreprocessConfig

__all__ = ["Classifier", "ImageNetClassifier", "YOLOv8Classifier", "read_labels"]


def read_labels(path: str | Path) -> tuple[str, ...]:
    """Class names from a labels file: one name a line (line number = class id), blank lines at the end ignored.

    Raises:
        ModelNotFoundError: The file does not exist.
        InputError: The file is empty or not text.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelNotFoundError(f"labels: no such file {str(p)!r}; expected a text file with one class name a line")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"labels: {p} is not a UTF-8 text file with one class name a line ({e})") from e
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise InputError(f"labels: {p} is empty; expected one class name a line")
    return tuple(line.strip() for line in lines)


class Classifier(ImageModel):
    """An image classifier on any backend: `classify` gives the top-k classes of an image.

    Args:
        model: Model file, hub name or opened [`Backend`][lite.backends.Backend].
        backend: Backend name; None picks one from the suffix.
        top_k: Classes returned per image (default 5).
        names: Class names (overriding the metadata).
        labels: A labels file: one class name a line (line number = class id).
        preprocess: A `PreprocessConfig` overriding the family's (e.g. another mean / std or crop).
        device: Device for the backend (None: its default).
        threads: Engine thread count (None: the engine's default).
        input_size: Input ``N`` or ``(H, W)`` of a dynamic-shape model (default: metadata, else the family's).
        **backend_options: Passed to the backend.

    Example:
        ```python
        from lite.cv import Classifier

        clf = Classifier("mobilenetv2-12-int8.onnx", labels="imagenet_labels.txt")  # warns: the ImageNet preset
        print(clf.classify("bus.jpg").top1.name)
        # golf cart
        ```

    Raises:
        TaskNotSupportedError: The model's outputs are not one row of class scores per image (a detector,
            segmenter or pose model: open it with `lite.cv.Detector.from_file`).
    """

    #: The classifier family's record (None: plain `Classifier`, which picks one from the metadata).
    record: ClassVar[FamilyRecord | None] = None
    family: ClassVar[str | None] = None
    decoders: ClassVar[tuple[str, ...]] = ("classify",)
    family_reasons: tuple[str, ...] = ()
    task: ClassVar[str] = "classify"
    #: Input size of a dynamic-shape classifier when nothing else says (the ImageNet crop).
    default_input_size: ClassVar[tuple[int, int]] = (224, 224)

    def __init__(
        self,
        model: str | Path | Backend,
        backend: str | None = None,
        *,
        device: str | None = None,
        threads: int | None = None,
        input_size: int | Sequence[int] | None = None,
        top_k: int = 5,
        names: Sequence[str] | None = None,
        labels: str | Path | None = None,
        preprocess: PreprocessConfig | None = None,
        **backend_options: Any,
    ) -> None:
        if names is not None and labels is not None:
            raise InputError("names= and labels= both given: pass the class names one way")
        self.top_k = _check_k(top_k)
        self.plan: Plan | None = None
        super().__init__(
            model,
            backend,
            device=device,
            threads=threads,
            input_size=input_size,
            names=read_labels(labels) if labels is not None else names,
            preprocess=preprocess,
            **backend_options,
        )

    @classmethod
    def from_file(
        cls, model: str | Path | Backend, *, family: str | None = None, task: str | None = None, **kwargs: Any
    ) -> Classifier:
        """Open a classifier as the family its metadata names (``yolov8-cls``), else with the ImageNet preset.

        Raises:
            TaskNotSupportedError: Not an image classifier (the message names the task and `Detector.from_file`).
        """
        if task not in (None, "classify"):
            raise InputError(f"task: a Classifier reads task 'classify', got task={task!r}")
        if family is not None or cls.family is not None:
            from lite.cv.family import open_model

            return open_model(model, family=family or cls.family, task="classify", api=cls.__name__, **kwargs)
        return cls(model, **kwargs)

    # -- construction ------------------------------------------------------------------
    def _setup_outputs(self) -> None:
        shapes, _ = self._output_shapes()
        hints = self._hints()
        plans = match_outputs(shapes, hints, ("classify",))
        if not plans:
            self._refuse(shapes, hints)
        self.plan = plans[0]
        self._adopt_family()

    def _hints(self) -> Any:
        from lite.cv.resolve import hints_for

        return hints_for(self.meta, self.input_hw)

    def _refuse(self, shapes: dict[str, tuple], hints: Any) -> None:
        desc = ", ".join(f"{n}{list(s)}" for n, s in shapes.items())
        name = self.backend.model_path.name
        others = [p for p in match_outputs(shapes, hints) if get_decoder(p.decoder).task != "classify"]
        if others:
            task = get_decoder(others[0].decoder).task
            raise TaskNotSupportedError(
                f"{name}: a {task} model (outputs {desc}, read by decoder {others[0].decoder!r}, which gives "
                f"{TASK_RESULTS[task]}), not an image classifier: {TASK_APIS[task]}",
                task,
                f"outputs {desc}",
            )
        if hints.num_classes is not None and match_outputs(shapes, type(hints)(), ("classify",)):
            raise InputError(
                f"{name}: the output {desc} has another class count than the {hints.num_classes} names from "
                f"{self.meta.source_of('names')}: pass names= (or labels=) with one name per class"
            )
        raise TaskNotSupportedError(
            f"{name}: expected one (B, C) output of class scores (an image classifier), got {desc}",
            "unknown",
            f"outputs {desc}",
        )

    def _adopt_family(self) -> None:
        """The family's preprocessing: the class's record, else the one the metadata names (ultralytics →
        ``yolov8-cls``), else the ImageNet preset. A preset nothing in the model confirms is said once in a
        warning that names it and how to pass another."""
        # the file's metadata and its sidecar (a converted model's family is in its .lite.json)
        named = named_family({**self.backend.metadata, **self.meta.extra}, self._source_name, task="classify")
        by_meta = RECORDS.get(named[0]) if named else None
        if by_meta is not None and "classify" not in by_meta.tasks:
            by_meta = None
        rec = type(self).record or by_meta or RECORDS["imagenet"]
        if by_meta is not None and by_meta.name == rec.name:
            self.family_reasons = (f"family {rec.name!r} from {named[1]}",)  # type: ignore[index]
        elif not self._user_preprocess:
            warnings.warn(
                f"{self.backend.model_path.name}: nothing in the model says how its images were preprocessed: "
                f"using the {rec.name!r} preset ({rec.notes['preprocess']}). Pass "
                f"preprocess=lite.ops.preprocess.PreprocessConfig(...) (or family='yolov8-cls' for an "
                f"ultralytics classifier) if it was trained otherwise",
                AssumedDefaultWarning,
                stacklevel=4,
            )
        self.family = rec.name  # type: ignore[misc]
        if not self._user_preprocess:
            self.preprocess_config = rec.preprocess  # type: ignore[misc]
        if self.input_size_source == SizeSource.DEFAULT and tuple(rec.input_size) != tuple(self.input_hw):
            self.input_hw = tuple(rec.input_size)  # type: ignore[assignment]

    def _max_stride(self) -> int:
        return 1

    # -- properties --------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """Class names by id (``names=``, ``labels=`` or the metadata; empty when none says them)."""
        return self.meta.names or ()

    @property
    def num_classes(self) -> int:
        """The model's class count (its output width)."""
        assert self.plan is not None and self.plan.num_classes is not None
        return self.plan.num_classes

    # -- pipeline ----------------------------------------------------------------------
    def probabilities(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """``(B, C)`` class probabilities of one inference (softmax unless the model gives probabilities)."""
        assert self.plan is not None
        dec = get_decoder(self.plan.decoder)
        assert isinstance(dec, ClassifyDecoder)
        return dec.probabilities(self.plan, outputs)

    def _result(self, probs: np.ndarray, k: int) -> Classifications:
        ids, scores = top_k(probs, k)
        return Classifications._trusted(ids, scores, self.names)  # top_k of checked probabilities

    def postprocess(self, outputs: dict[str, np.ndarray], top_k: int | None = None) -> list[Classifications]:
        """The ``top_k`` classes of each image of one inference's outputs (one `Classifications` per batch row)."""
        k = self.top_k if top_k is None else _check_k(top_k)
        return [self._result(p, k) for p in self.probabilities(outputs)]

    def classify(self, image: Any, top_k: int | None = None) -> Classifications:
        """The ``top_k`` classes of one image, best first.

        Args:
            image: BGR uint8 array, grayscale or BGRA array, float image in [0, 1], a path, or a PIL image.
            top_k: Classes returned (default: the model's ``top_k``).
        """
        k = self.top_k if top_k is None else _check_k(top_k)
        tensor, _ = self.preprocess(load_image(image))
        return self._result(self.probabilities(self.infer(tensor))[0], k)

    __call__ = classify

    def classify_batch(self, images: Iterable[Any], top_k: int | None = None) -> list[Classifications]:
        """`classify` for several images, in one engine call when the model's batch is dynamic."""
        k = self.top_k if top_k is None else _check_k(top_k)
        imgs = [load_image(im) for im in batch_sources(images)]
        if not imgs:
            return []
        if not self.backend.supports_batch or self.batch_size == 1:
            return [self.classify(im, k) for im in imgs]
        chunk = self.batch_size or len(imgs)
        out: list[Classifications] = []
        for i in range(0, len(imgs), chunk):
            part = imgs[i : i + chunk]
            tensor, _ = self._letterbox.batch(part)
            if self.batch_size and len(part) < self.batch_size:
                tensor = np.concatenate([tensor, np.repeat(tensor[-1:], self.batch_size - len(part), axis=0)])
            probs = self.probabilities(self.infer(tensor))
            out += [self._result(probs[j], k) for j in range(len(part))]
        return out

    def classify_stream(
        self,
        images: Iterable[Any],
        *,
        top_k: int | None = None,
        depth: int = 2,
        return_images: bool = False,
        on_error: str = "raise",
    ) -> Iterator[Classifications] | Iterator[tuple[np.ndarray, Classifications]]:
        """`classify` over a stream (paths, arrays, or one source string as `lite.data.sources` reads it), loading
        the next image while the engine runs this one; see `Detector.detect_stream` for ``depth`` / ``on_error``."""
        from lite.data.stream import overlapped

        k = self.top_k if top_k is None else _check_k(top_k)
        if isinstance(images, str | Path) or isinstance(images, int) and not isinstance(images, bool):
            from lite.data.sources import open_sources

            images = (frame.image for frame in open_sources(images))

        def prepare(src: Any) -> tuple[np.ndarray, np.ndarray]:
            img = load_image(src)
            return img, self.preprocess(img)[0]

        def finish(p: tuple[np.ndarray, np.ndarray], outs: dict[str, np.ndarray]) -> Any:
            c = self._result(self.probabilities(outs)[0], k)
            return (p[0], c) if return_images else c

        return overlapped(images, prepare, lambda p: self.infer(p[1]), finish, depth=depth, on_error=on_error)

    # -- description ---------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the classifier knows about its model (for ``lite info``)."""
        base = super().info()
        out = {k: base[k] for k in ("model", "backend", "inputs", "outputs")}
        out.update(
            {
                "task": self.task,
                "family": self.family,
                "family_reasons": list(self.family_reasons),
                "decoder": self.plan.decoder if self.plan else None,
                **{k: base[k] for k in ("input_size", "input_size_source", "dynamic_input", "batch", "preprocess")},
                "num_classes": self.num_classes,
                "names": list(self.names),
                "top_k": self.top_k,
                "metadata": base["metadata"],
            }
        )
        return out

    def __enter__(self) -> Classifier:
        return self

    def __repr__(self) -> str:
        h, w = self.input_hw
        return (
            f"{type(self).__name__}({self.backend.model_path.name!r}, backend={self.backend.name!r}, input={h}x{w}, "
            f"family={self.family}, classes={self.num_classes})"
        )


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"top_k: expected a positive int, got {k!r}")
    return int(k)


@register_family(record=RECORDS["yolov8-cls"])
class YOLOv8Classifier(Classifier):
    """Ultralytics YOLOv8/YOLO11-cls (``classify_transforms``: short side to the input size, centre crop, /255)."""


@register_family(record=RECORDS["imagenet"])
class ImageNetClassifier(Classifier):
    """ImageNet classifiers (torchvision ResNet / MobileNet, the ONNX Model Zoo): the ImageNet preset."""

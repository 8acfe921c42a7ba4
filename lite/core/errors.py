"""The exceptions lite raises.

Every error derives from `LiteError`, and each subclass also derives from the
builtin exception a caller would naturally catch, so ``except ImportError`` catches a
missing engine and ``except FileNotFoundError`` catches a missing model file.
Messages say what was expected, what came, and what to do.
"""

from __future__ import annotations

__all__ = [
    "LiteError",
    "ModelNotFoundError",
    "ModelLoadError",
    "BackendNotInstalledError",
    "UnknownBackendError",
    "InputError",
    "ImageError",
    "ImageNotFoundError",
    "DeviceError",
    "ConversionError",
    "QuantizationError",
    "VerificationError",
    "ChecksumError",
    "HubError",
    "CudaError",
    "ModelOutputError",
    "OutputError",
    "OutputExistsError",
    "UnknownConverterError",
    "StreamError",
    "SourceError",
    "StreamLostError",
    "StreamStalledError",
    "SourcesFailedError",
    "LayoutError",
    "AmbiguousModelError",
    "InputSizeError",
    "InputTypeError",
    "ImageTypeError",
    "LiteWarning",
    "TruncatedImageWarning",
    "UnverifiedModelWarning",
    "MetadataWarning",
]


class LiteError(Exception):
    """Base class of every error lite raises."""


class ModelNotFoundError(LiteError, FileNotFoundError):
    """A model file (or a file it needs, such as an NCNN ``.bin``) does not exist."""


class ModelLoadError(LiteError, ValueError):
    """A model file exists but cannot be loaded (corrupt, truncated, wrong format)."""


class BackendNotInstalledError(LiteError, ImportError):
    """The engine package a backend needs is not installed; the message names the pip extra."""


class UnknownBackendError(LiteError, ValueError):
    """A backend name or file suffix that no registered backend handles."""


class InputError(LiteError, ValueError):
    """A tensor feed or an argument does not match what the model or function expects."""


class InputTypeError(InputError, TypeError):
    """An argument of the wrong type (``threads="2"``, ``conf=None``): both an ``InputError`` and a ``TypeError``."""


class ImageError(InputError):
    """An image argument is not a usable image (None, empty, wrong dtype, ndim or channels)."""


class ImageTypeError(ImageError, TypeError):
    """An image argument of a type lite does not read (``None``, a dict, a list): also a ``TypeError``."""


class ImageNotFoundError(LiteError, FileNotFoundError):
    """An image path does not exist."""


class DeviceError(LiteError, RuntimeError):
    """The requested device or execution provider is not available or not the one running."""


class ConversionError(LiteError, RuntimeError):
    """Converting or exporting a model failed (unsupported op, converter error, no output)."""


class QuantizationError(ConversionError):
    """``lite quantize`` could not make an int8 model that keeps the accuracy asked for (``--max-drop``)."""


class VerificationError(LiteError, AssertionError):
    """Two runs of a model that should agree (export check, parity check) differ beyond tolerance."""


class ChecksumError(LiteError, ValueError):
    """A downloaded or local model file does not have the sha256 the manifest records."""


class HubError(LiteError, LookupError):
    """A hub model name is unknown, or its file cannot be found or fetched."""


class CudaError(LiteError, RuntimeError):
    """A CUDA runtime call returned an error; the message carries the CUDA error name."""


class ModelOutputError(LiteError, RuntimeError):
    """A model's outputs are unusable (non-finite values, shapes no layout explains)."""


class OutputError(LiteError, OSError):
    """lite cannot write an output where it was asked to (not a folder, not writable)."""


class OutputExistsError(OutputError, FileExistsError):
    """An output would replace an existing file (or an input) and overwriting was not allowed."""


class UnknownConverterError(InputError):
    """A conversion target is not registered; the message lists the known ones."""


class StreamError(LiteError, RuntimeError):
    """One item of a stream (``Detector.detect_stream``) failed; ``__cause__`` is the original error.

    Attributes:
        index: Position of the failing item in the stream (0-based).
        source: The item as given (a path, an array...), or None when reading the iterable failed.
        stage: ``"prepare"`` (reading, decoding, letterbox), ``"inference"`` or ``"post-process"``.
    """

    def __init__(self, message: str, *, index: int, source: object = None, stage: str = "") -> None:
        super().__init__(message)
        self.index, self.source, self.stage = index, source, stage


class SourceError(LiteError, OSError):
    """A frame source (camera, stream, URL, screen) cannot be opened or read; the message names it.

    Attributes:
        source: The source's name, credentials masked (``rtsp://user:***@host/x``).
    """

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class StreamLostError(SourceError, ConnectionError):
    """A network stream stopped and every reconnection attempt failed (the frames before were delivered)."""


class StreamStalledError(SourceError, TimeoutError):
    """A live source gave no frame for longer than its stall timeout."""


class SourcesFailedError(SourceError):
    """Some of several sources read together failed; the others were read to their end.

    Attributes:
        errors: The error of each failed source, in source order.
    """

    def __init__(self, message: str, *, errors: tuple[BaseException, ...] = ()) -> None:
        super().__init__(message, source=", ".join(getattr(e, "source", "") for e in errors))
        self.errors = tuple(errors)
class ClusterError(LiteError, RuntimeError):
    """A Ray cluster could not run a lite job: no connection (authentication), a node that cannot open the model."""


class StalledJobError(ClusterError, TimeoutError):
    """A distributed job made no progress for its ``stall_timeout``; the message names the likely resource cause."""


class LayoutError(InputError):
    """A model's outputs fit no registered layout of the family asked for (or fit another family's better)."""


class AmbiguousModelError(LayoutError):
    """Several model families fit a model's outputs equally; the message names them and says ``family=``.

    Attributes:
        candidates: The family names that fit.
    """

    def __init__(self, message: str, candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


class InputSizeError(InputError):
    """A model's outputs do not fit the input size it is run at (e.g. a fixed-size graph run at another size)."""


class LiteWarning(UserWarning):
    """Base class of every warning lite emits (filter them with ``warnings.simplefilter(..., LiteWarning)``)."""


class TruncatedImageWarning(LiteWarning):
    """A JPEG ends before its end-of-image marker: the decoder filled the missing part with grey.

    Turn it into an error with ``warnings.simplefilter("error", TruncatedImageWarning)``.
    """


class UnverifiedModelWarning(LiteWarning):
    """A hub file has no sha256 in the manifest, so lite cannot check it is the right file."""


class MetadataWarning(LiteWarning):
    """A metadata sidecar has a key this version of lite does not know (written by a newer lite?)."""


class TaskNotSupportedError(LayoutError):
    """The model's outputs are another task's (pose keypoints, segmentation masks...) than the one asked for.

    ``task`` is the task found (``"pose"``, ``"segment"``...), ``reason`` what said so (metadata key or output shapes).
    """

    def __init__(self, message: str, task: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.task = task
        self.reason = reason


class AssumedDefaultWarning(LiteWarning):
    """lite used a family default (input size, anchors) because the model and the caller said nothing."""


class DegenerateOutputWarning(LiteWarning):
    """A model's first inference scores nothing: its class scores are one value at every anchor (any model), or, for
    a quantized model, its best score is far below any threshold or its top scores are all one value (saturated). A
    quantization that destroyed the detection head gives this; compare with the fp32 model, or quantize again
    keeping the head in float (``lite quantize --eval``).

    ``best`` is the highest score of the first image, ``distinct`` the number of different values among its top
    scores.
    """

    def __init__(self, message: str, best: float = 0.0, distinct: int = 0) -> None:
        super().__init__(message)
        self.best = best
        self.distinct = distinct


__all__ += ["TaskNotSupportedError", "AssumedDefaultWarning", "DegenerateOutputWarning"]

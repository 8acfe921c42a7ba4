"""The exceptions lite raises.

Every error derives from :class:`LiteError`, and each subclass also derives from the
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
    "VerificationError",
    "ChecksumError",
    "HubError",
    "CudaError",
    "ModelOutputError",
    "LayoutError",
    "AmbiguousModelError",
    "InputSizeError",
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


class ImageError(InputError):
    """An image argument is not a usable image (None, empty, wrong dtype, ndim or channels)."""


class ImageNotFoundError(LiteError, FileNotFoundError):
    """An image path does not exist."""


class DeviceError(LiteError, RuntimeError):
    """The requested device or execution provider is not available or not the one running."""


class ConversionError(LiteError, RuntimeError):
    """Converting or exporting a model failed (unsupported op, converter error, no output)."""


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

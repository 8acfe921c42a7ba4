"""The abstract backend: tensor specs, feed checking, and the ``infer`` → ``_infer`` split.

An adapter only speaks tensors. It declares its input and output specs and implements
`Backend._infer`; the base class checks every feed against the input specs (names,
rank, static dimensions, dtype) before the adapter sees it, so a wrong tensor is a clear
[`InputError`][lite.core.errors.InputError], never a crash deep inside an engine.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lite.core.errors import InputError

Dim = int | str | None
"""One dimension of a tensor spec: a fixed size, a symbolic name, or None when unknown."""


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and dtype of one model input or output.

    Attributes:
        name: Tensor (or NCNN blob) name.
        shape: Dimensions; an ``int`` is fixed, a ``str`` is a symbolic dimension (such as
            ``"batch"``), ``None`` is unknown. An empty tuple with ``rank_known=False``
            means the engine does not declare the shape at all (NCNN).
        dtype: numpy dtype of the tensor.
        rank_known: Whether ``len(shape)`` is the tensor's rank.
    """

    name: str
    shape: tuple[Dim, ...]
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float32))
    rank_known: bool = True

    @property
    def is_static(self) -> bool:
        """True when every dimension is a fixed integer."""
        return self.rank_known and all(isinstance(d, int) for d in self.shape)

    @property
    def static_hw(self) -> tuple[int, int] | None:
        """``(H, W)`` of a rank-4 (NCHW) tensor whose H and W are fixed, else None."""
        if not self.rank_known or len(self.shape) != 4:
            return None
        h, w = self.shape[2], self.shape[3]
        return (h, w) if isinstance(h, int) and isinstance(w, int) else None

    def dim(self, axis: int) -> Dim:
        """Dimension ``axis`` (None when the rank is unknown or the axis is out of range)."""
        if not self.rank_known or not -len(self.shape) <= axis < len(self.shape):
            return None
        return self.shape[axis]

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape) if self.rank_known else "..."
        return f"{self.name}: {self.dtype.name}[{dims}]"


_FLOAT_KINDS = ("f",)


class Backend(abc.ABC):
    """Base class of every inference-engine adapter.

    Subclasses are registered with [`lite.backends.register_backend`][lite.backends.register_backend], import their
    engine package only inside ``__init__``, fill `inputs`, `outputs` and
    `metadata`, and implement `_infer`.

    Args:
        model_path: The model file.
        device: Device string, such as ``"cpu"`` or ``"cuda:0"``; each adapter says which it supports.
        threads: Intra-op thread count (None: the engine's default).
    """

    #: Registry name, set by the decorator.
    name: ClassVar[str] = ""
    #: File suffixes the backend opens, set by the decorator.
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: pip extra that installs the engine (``pip install 'lite-detect[<extra>]'``).
    extra: ClassVar[str] = ""
    #: Whether a detector fuses the preprocessing into this engine unless told (``fuse_preprocess=None``).
    fuse_by_default: ClassVar[bool] = True

    def __init__(self, model_path: str | Path, *, device: str = "cpu", threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.device = device
        self.threads = threads
        self._inputs: list[TensorSpec] = []
        self._outputs: list[TensorSpec] = []
        self._metadata: dict[str, str] = {}

    # -- description -----------------------------------------------------------------
    @property
    def inputs(self) -> list[TensorSpec]:
        """Input tensor specs, in the model's order."""
        return list(self._inputs)

    @property
    def outputs(self) -> list[TensorSpec]:
        """Output tensor specs, in the model's order."""
        return list(self._outputs)

    @property
    def metadata(self) -> dict[str, str]:
        """Key-value metadata stored in the model file itself (e.g. ONNX ``metadata_props``)."""
        return dict(self._metadata)

    @property
    def supports_batch(self) -> bool:
        """Whether one call may carry a batch larger than one (default: the input spec says so)."""
        first = self._inputs[0].dim(0) if self._inputs else None
        return not isinstance(first, int) or first > 1

    def describe(self) -> str:
        """A short multi-line description of the model's I/O."""
        lines = [f"{type(self).__name__} ({self.name}) {self.model_path}"]
        lines += [f"  input  {s}" for s in self._inputs]
        lines += [f"  output {s}" for s in self._outputs]
        return "\n".join(lines)

    # -- inference ----------------------------------------------------------------------
    def infer(self, feed: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model on a feed after checking it against the input specs.

        Args:
            feed: One array (models with a single input) or a mapping of input name to array.

        Returns:
            Output name → array, in the order of `outputs`.

        Raises:
            InputError: A missing or unknown input, or a rank, dimension or dtype mismatch.
        """
        return self._infer(self.check_feed(feed))

    def check_feed(self, feed: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Validate a feed (names, rank, static dims, dtype) and return it as a dict.

        Float arrays are cast to the spec's float dtype (e.g. float32 → float16 for an FP16
        input); any other dtype mismatch is an error.
        """
        if isinstance(feed, np.ndarray):
            if len(self._inputs) != 1:
                names = [s.name for s in self._inputs]
                raise InputError(
                    f"this model has {len(names)} inputs {names}; pass a dict name -> array, got one array"
                )
            feed = {self._inputs[0].name: feed}
        if not isinstance(feed, Mapping):
            raise InputError(f"expected a numpy array or a dict of name -> array, got {type(feed).__name__}")
        expected = {s.name: s for s in self._inputs}
        missing = [n for n in expected if n not in feed]
        unknown = [n for n in feed if n not in expected]
        if missing or unknown:
            raise InputError(
                f"feed names do not match the model inputs: expected {list(expected)}, got {list(feed)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {unknown}" if unknown else "")
            )
        checked: dict[str, np.ndarray] = {}
        for name, spec in expected.items():
            checked[name] = _check_array(spec, feed[name])
        return checked

    def raw_runner(self, feed: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        """A zero-argument callable that runs the engine's own inference call on a prepared feed.

        Used by benchmarks as the baseline ("``session.run`` alone"): no checks, no conversion.
        Adapters override it with their engine's bare call; the default runs `_infer`.
        """
        checked = self.check_feed(dict(feed))
        return lambda: self._infer(checked)

    @abc.abstractmethod
    def _infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the engine on a checked feed; return outputs by name in `outputs` order."""

    # -- fused preprocessing ------------------------------------------------------------
    def fuse_preprocess(self, config: Any) -> bool:
        """Let the engine take the letterbox canvas and normalise it natively.

        On success `infer_canvas` runs the model on ``uint8`` ``(N, H, W, 3)`` BGR canvases
        ([`lite.ops.letterbox.Letterbox.canvas`][lite.ops.letterbox.Letterbox.canvas]) and the engine applies
        ``config`` (colour order, scale, mean / std, HWC -> CHW) itself, equal to numpy's
        `lite.ops.preprocess.normalize` to within 1 ulp. `infer` keeps taking the
        float NCHW tensor, and `inputs` keeps describing it. A backend that cannot fuse
        returns False and nothing changes. One config per backend: fusing another one returns False.

        Args:
            config: The model's `PreprocessConfig`.

        Returns:
            Whether `infer_canvas` is available.
        """
        if self.fused_config is not None:
            return self.fused_config == config
        if not self._fuse_preprocess(config):
            return False
        self._fused_config = config
        return True

    def _fuse_preprocess(self, config: Any) -> bool:
        """Adapter hook of `fuse_preprocess` (called once, before any config is fused): prepare
        `_infer_canvas` for ``config`` and return True, or return False with nothing changed."""
        return False

    def fuse_by_default_for(self, input_hw: tuple[int, int]) -> bool:
        """Whether a detector at ``input_hw`` fuses unless told (default: `fuse_by_default`)."""
        return self.fuse_by_default

    @property
    def fused_config(self) -> Any:
        """The `PreprocessConfig` the engine applies, or None (not fused)."""
        return getattr(self, "_fused_config", None)

    def infer_canvas(self, canvas: np.ndarray) -> dict[str, np.ndarray]:
        """Run the model on ``(N, H, W, 3)`` ``uint8`` BGR canvases (after `fuse_preprocess`).

        Raises:
            InputError: The backend is not fused, or the canvas is not a non-empty ``(N, H, W, 3)``
                ``uint8`` array matching the model's static batch, height and width.
        """
        if self.fused_config is None:
            raise InputError(f"{type(self).__name__} takes canvases only after fuse_preprocess(config) returned True")
        if not isinstance(canvas, np.ndarray) or canvas.dtype != np.uint8 or canvas.ndim != 4 or canvas.shape[3] != 3:
            got = f"{canvas.dtype} {canvas.shape}" if isinstance(canvas, np.ndarray) else type(canvas).__name__
            raise InputError(f"expected (N, H, W, 3) uint8 BGR canvases, got {got}")
        spec = self._inputs[0]
        for spec_axis, axis in ((0, 0), (2, 1), (3, 2)):
            want = spec.dim(spec_axis)
            if (isinstance(want, int) and want != canvas.shape[axis]) or canvas.shape[axis] == 0:
                raise InputError(
                    f"input {spec.name!r}: expected canvases of shape (N, H, W, 3) for {_fmt(spec.shape)}, "
                    f"got {tuple(canvas.shape)}"
                )
        return self._infer_canvas(np.ascontiguousarray(canvas))

    def _infer_canvas(self, canvas: np.ndarray) -> dict[str, np.ndarray]:
        """Adapter hook of `infer_canvas` (a checked, contiguous canvas batch)."""
        raise NotImplementedError

    def _fused_canvas(self, feed: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """The ``uint8`` canvas batch a `raw_runner` feed carries for the fused model, or None (a float feed)."""
        first = next(iter(feed.values()), None)
        if self.fused_config is not None and isinstance(first, np.ndarray) and first.dtype == np.uint8:
            return first
        return None

    # -- lifetime -----------------------------------------------------------------------
    def close(self) -> None:  # noqa: B027 - optional hook
        """Release engine resources (sessions, device buffers). Safe to call twice."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.model_path)!r}, device={self.device!r})"


def _check_array(spec: TensorSpec, value: Any) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise InputError(f"input {spec.name!r}: expected a numpy array, got {type(value).__name__}")
    if value.dtype != spec.dtype:
        if value.dtype.kind in _FLOAT_KINDS and spec.dtype.kind in _FLOAT_KINDS:
            value = value.astype(spec.dtype)
        else:
            raise InputError(f"input {spec.name!r}: expected dtype {spec.dtype.name}, got {value.dtype.name}")
    if spec.rank_known:
        if value.ndim != len(spec.shape):
            raise InputError(
                f"input {spec.name!r}: expected rank {len(spec.shape)} {_fmt(spec.shape)}, "
                f"got rank {value.ndim} {tuple(value.shape)}"
            )
        for axis, (want, got) in enumerate(zip(spec.shape, value.shape, strict=True)):
            if isinstance(want, int) and want != got:
                raise InputError(
                    f"input {spec.name!r}: expected shape {_fmt(spec.shape)}, got {tuple(value.shape)} "
                    f"(axis {axis}: expected {want}, got {got})"
                )
    if any(d == 0 for d in value.shape):
        raise InputError(f"input {spec.name!r}: got an empty array of shape {tuple(value.shape)}")
    return np.ascontiguousarray(value)


def _fmt(shape: Sequence[Dim]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"

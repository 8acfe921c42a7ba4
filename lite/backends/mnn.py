"""MNN adapter (``backend="mnn"``, ``.mnn`` files), on MNN's Module API.

Why the Module API (``MNN.nn.load_module_from_file``) and not the older Session API
(``MNN.Interpreter``, which MNN's Python docs mark as not recommended): a Module re-plans the
graph for whatever input shape it is given (no ``resizeTensor``/``resizeSession`` bookkeeping,
no stale session after a failed resize), returns outputs by name in NCHW order as numpy
arrays, and reports its declared inputs in its info, so nothing is loaded twice. The module
is loaded with an explicit ``RuntimeManager`` (CPU, threads, precision): measured here, that
costs the same CPU time per inference as a Session (Lite-S 17.7 vs 18.3 ms, Lite-L 23.9 vs
24.2 ms, one thread), while a module loaded without one takes about 20 % more (22.5, 28.6 ms).

MNN models are resizable: for a 4-D image input the spec leaves H and W open (``None``) and
the declared size becomes the ``input_size`` metadata, so a detector uses it by default and
any other size the graph accepts works too. The batch dimension stays as declared. Output
shapes depend on the input size, so the output specs are shape-free and the detector settles
the layout with one inference.

``import MNN`` prints a line from C code to stdout (and so do load errors and shape errors such
as ``Reshape error``). The adapter keeps the user's stdout and stderr clean by pointing file
descriptors 1 and 2 at a temporary file around the import, the load and the first run at each
input shape only (flushing C's stdio buffer before restoring them), never for the whole process;
what MNN said is quoted in lite's error when one follows (``lite.backends._capture``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from lite.backends import register_backend, require
from lite.backends._capture import Captured, capture_output, engine_said, run_captured
from lite.backends.base import Backend, TensorSpec
from lite.core.checks import check_threads
from lite.core.errors import DeviceError, InputError, InputSizeError, ModelLoadError, ModelNotFoundError

__all__ = ["MnnBackend", "PRECISIONS", "capture_stdout", "import_mnn"]

#: Accepted ``precision=`` values and the runtime-config string each maps to.
PRECISIONS = {"normal": "normal", "low": "low", "high": "high", "low_bf16": "lowBF"}
#: Threads when none are asked for: MNN's own default (4), capped at the CPU count.
DEFAULT_THREADS = min(4, os.cpu_count() or 1)

_MNN_DTYPES = {"float": np.float32, "double": np.float64, "int": np.int32, "int64": np.int64, "uint8": np.uint8,
               "int8": np.int8}  # fmt: skip


@contextlib.contextmanager
def capture_stdout() -> Iterator[Captured]:
    """Point file descriptor 1 at a temporary file for the block; yield what was written there.

    ``lite.backends._capture.capture_output`` on fd 1 only (see there).
    """
    with capture_output((1,), what="MNN") as captured:
        yield captured


def import_mnn() -> ModuleType:
    """``import MNN`` (with ``MNN.nn`` and ``MNN.expr``) without the line it prints to stdout.

    Raises:
        BackendNotInstalledError: MNN is not installed (``pip install 'lite-detect[mnn]'``).
    """
    if "MNN.expr" in sys.modules and "MNN.nn" in sys.modules:
        return sys.modules["MNN"]
    with capture_output(what="import MNN"):
        mnn = require("MNN", "mnn")
        require("MNN.nn", "mnn")
        require("MNN.expr", "mnn")
    return mnn


@register_backend("mnn", suffixes=(".mnn",), requires=("MNN",), extra="mnn", title="MNN")
class MnnBackend(Backend):
    """An MNN model on the CPU (MNN's Module API).

    Args:
        model_path: ``.mnn`` file.
        device: ``"cpu"`` (the only device this adapter drives).
        threads: Threads of MNN's CPU backend (None: MNN's default, 4, capped at the CPU count).
        precision: ``"normal"`` (FP32, default), ``"high"``, ``"low"`` (FP16/BF16 arithmetic where
            the CPU has it) or ``"low_bf16"``.

    Raises:
        ModelNotFoundError: The file is missing.
        ModelLoadError: The file is not an MNN model (or is truncated).
        DeviceError: A device other than ``"cpu"``.
        InputError: An unknown ``precision`` or a bad ``threads``.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = "cpu",
        threads: int | None = None,
        precision: str = "normal",
    ) -> None:
        super().__init__(model_path, device=device, threads=threads)
        if device.lower() != "cpu":
            raise DeviceError(f"backend 'mnn' runs on device 'cpu' only; got device={device!r}")
        check_threads(threads)
        if precision not in PRECISIONS:
            raise InputError(f"precision: expected one of {list(PRECISIONS)}, got {precision!r}")
        if not self.model_path.is_file():
            raise ModelNotFoundError(f"MNN model not found: {self.model_path} (absolute: {self.model_path.resolve()})")
        self.precision = precision
        mnn = import_mnn()
        self._nn, self._F = mnn.nn, mnn.expr
        config = {"backend": "CPU", "precision": PRECISIONS[precision], "numThread": int(threads or DEFAULT_THREADS)}
        with capture_output(what=f"MNN load of {self.model_path.name}") as out:  # precision choice, load errors
            self._runtime = self._nn.create_runtime_manager((config,))
            try:
                module = self._nn.load_module_from_file(
                    os.fspath(self.model_path), [], [], runtime_manager=self._runtime
                )
            except (SystemError, RuntimeError, ValueError) as e:  # MNN reports a bad buffer as SystemError
                module, error = None, e
            else:
                error = None
        if module is None:
            raise ModelLoadError(
                f"MNN could not load {self.model_path}: it is not a valid .mnn model or it is truncated"
                + engine_said("MNN", out.text)
                + (f" ({type(error).__name__}: {error})" if error is not None else "")
            ) from error
        self.module = module
        info = module.get_info()
        names_in, names_out = list(info.get("inputNames", [])), list(info.get("outputNames", []))
        declared = list(info.get("inputs") or [])
        if not names_in or not names_out:
            raise ModelLoadError(f"MNN model {self.model_path} declares no inputs or outputs: {info}")
        self._formats: dict[str, Any] = {}
        self._inputs = []
        self._metadata = {}
        for i, name in enumerate(names_in):
            var = declared[i] if i < len(declared) else None
            self._inputs.append(self._input_spec(name, var))
        self._outputs = [TensorSpec(n, (), np.dtype(np.float32), rank_known=False) for n in names_out]
        self._input_names, self._output_names = names_in, names_out
        self._seen_shapes: set[tuple[tuple[int, ...], ...]] = set()
        self._fixed: bool | None = None  # the graph runs at its declared size only (learnt from a failed run)
        if info.get("bizCode"):
            self._metadata["bizCode"] = str(info["bizCode"])

    def _input_spec(self, name: str, var: Any) -> TensorSpec:
        """Spec of one input from its declared Var: spatial dims of a 4-D NCHW input are left open."""
        F = self._F
        if var is None:
            self._formats[name] = F.NCHW
            return TensorSpec(name, (None, None, None, None), np.dtype(np.float32))
        shape = [int(d) for d in var.shape]
        fmt = var.data_format
        self._formats[name] = F.NHWC if fmt == F.NHWC else F.NCHW
        dtype = np.dtype(_MNN_DTYPES.get(str(var.dtype).rsplit(".", 1)[-1], np.float32))
        dims: list[int | None] = [d if d > 0 else None for d in shape]
        if len(dims) == 4:
            h_ax, w_ax = (1, 2) if fmt == F.NHWC else (2, 3)
            h, w = dims[h_ax], dims[w_ax]
            if h is not None and w is not None and len(self._inputs) == 0:
                self._metadata["input_size"] = json.dumps([h, w])
            dims[h_ax] = dims[w_ax] = None
        return TensorSpec(name, tuple(dims), dtype)

    # -- inference -----------------------------------------------------------------------
    def _vars(self, feed: Mapping[str, np.ndarray]) -> list[Any]:
        F = self._F
        out = []
        for spec in self._inputs:
            a = np.ascontiguousarray(feed[spec.name])
            out.append(F.const(a, list(a.shape), self._formats[spec.name]))
        return out

    def _infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the module; the first run at each input shape runs with MNN's output captured."""
        key = tuple(tuple(feed[n].shape) for n in self._input_names)
        if key in self._seen_shapes:
            return self._run(feed)
        result = run_captured("MNN", f"MNN run of {self.model_path.name} at {key}", lambda: self._run(feed))
        self._seen_shapes.add(key)
        return result

    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        F = self._F
        try:
            outs = self.module.forward(self._vars(feed))
        except (SystemError, RuntimeError, ValueError) as e:
            self._raise_if_fixed(feed)
            shapes = {n: tuple(a.shape) for n, a in feed.items()}
            raise InputError(f"MNN could not run {self.model_path.name} on inputs {shapes}: {e}") from e
        if not isinstance(outs, list | tuple):
            outs = [outs]
        if len(outs) != len(self._output_names):
            self._raise_if_fixed(feed)
            raise InputError(
                f"MNN returned {len(outs)} outputs for {self.model_path.name}, expected {len(self._output_names)}"
            )
        result: dict[str, np.ndarray] = {}
        for name, var in zip(self._output_names, outs, strict=True):
            if var.data_format == F.NC4HW4:
                var = F.convert(var, F.NCHW)
            value = var.read()
            if value is None:
                self._raise_if_fixed(feed)
                shapes = {n: tuple(a.shape) for n, a in feed.items()}
                raise InputError(f"MNN could not compute output {name!r} of {self.model_path.name} for inputs {shapes}")
            result[name] = np.array(value, copy=True)  # read() may view memory the next run reuses
        return result

    def _raise_if_fixed(self, feed: Mapping[str, np.ndarray]) -> None:
        """After a failed run away from the declared size: when the graph is fixed at that size, say so.

        A model converted from an ONNX file with a fixed input keeps reshapes computed for that size,
        so MNN fails at any other (``Reshape error``), as NCNN refuses a fixed ``Input``. A size that is
        only wrong for this model (not a multiple of its strides) fails too, so the graph counts as
        fixed when it also fails at twice its declared size, which suits every stride the declared size does.

        Raises:
            InputSizeError: The graph runs at its declared size only.
        """
        declared = self._metadata.get("input_size")
        spec = self._inputs[0] if self._inputs else None
        if declared is None or spec is None or spec.name not in feed or feed[spec.name].ndim != 4:
            return
        h, w = json.loads(declared)
        a = feed[spec.name]
        nhwc = self._formats[spec.name] == self._F.NHWC
        got = tuple(a.shape[1:3]) if nhwc else tuple(a.shape[2:4])
        if got == (h, w) or not self._fails_at(feed, spec.name, (2 * h, 2 * w), got, nhwc):
            return
        nor = "" if got == (2 * h, 2 * w) else f" (nor at {2 * h}x{2 * w})"
        raise InputSizeError(
            f"{self.model_path.name} is fixed at {h}x{w}: it declares that input size and MNN cannot run its graph "
            f"at {got[0]}x{got[1]}{nor}: its reshapes were computed for {h}x{w} when it was converted. Run it at "
            f"input_size={h if h == w else (h, w)}, or convert it again from an ONNX model with dynamic H, W"
        )

    def _fails_at(
        self, feed: Mapping[str, np.ndarray], name: str, hw: tuple[int, int], failed: tuple[int, ...], nhwc: bool
    ) -> bool:
        """Whether the graph fails at ``hw`` too (one blank run, remembered; ``failed`` is known to fail)."""
        if hw == failed:
            return True
        if self._fixed is None:
            a = feed[name]
            shape = (a.shape[0], *hw, a.shape[3]) if nhwc else (*a.shape[:2], *hw)
            probe = {**feed, name: np.zeros(shape, a.dtype)}
            try:
                outs = self.module.forward(self._vars(probe))
                outs = outs if isinstance(outs, list | tuple) else [outs]
                self._fixed = len(outs) != len(self._output_names) or any(v.read() is None for v in outs)
            except (SystemError, RuntimeError, ValueError):
                self._fixed = True
        return self._fixed

    def raw_runner(self, feed: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        """MNN's own call on a prepared feed: ``module.forward`` on input Vars made once."""
        inputs = self._vars(self.check_feed(dict(feed)))
        module = self.module
        return lambda: module.forward(inputs)

    def close(self) -> None:
        self.module = None
        self._runtime = None

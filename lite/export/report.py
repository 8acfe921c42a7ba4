"""What an export did and how closely the exported model matches the original: plain data + text tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["OutputDiff", "Comparison", "ExportReport", "format_table"]


def _sci(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return f"{x:.2e}"


def _ms(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2f}" if x < 10 else f"{x:.1f}")


@dataclass
class OutputDiff:
    """Differences between one reference output and the same output of the target, over every sample.

    Attributes:
        name: The target's output name.
        shape: Shape of one sample's output.
        max_abs: Largest absolute difference.
        sse: Sum of squared differences.
        ref_sq: Sum of squared reference values (for the relative L2 error).
        size: Number of compared elements.
        mismatched: Elements outside ``|target - ref| <= atol + rtol * |ref|``.
    """

    name: str
    shape: tuple[int, ...]
    max_abs: float
    sse: float
    ref_sq: float
    size: int
    mismatched: int

    @property
    def mse(self) -> float:
        """Mean squared error."""
        return self.sse / self.size if self.size else 0.0

    @property
    def rel_l2(self) -> float:
        """``‖target − ref‖₂ / ‖ref‖₂`` (the absolute L2 norm of the difference when ref is all zeros)."""
        return math.sqrt(self.sse / self.ref_sq) if self.ref_sq > 0 else math.sqrt(self.sse)


@dataclass
class Comparison:
    """One parity check: a reference (PyTorch) against a target (ONNX Runtime, NCNN, MNN, …).

    Attributes:
        reference: What produced the expected values, e.g. ``"PyTorch"``.
        target: What was checked, e.g. ``"ONNX Runtime"``.
        outputs: Per-output differences.
        samples: Number of inputs compared.
        rtol: Relative tolerance used.
        atol: Absolute tolerance used.
        reference_ms: Median latency of the reference on one sample (ms), if measured.
        target_ms: Median latency of the target on one sample (ms), if measured.
        ok: Overrides the tolerance verdict (checks that are not element-wise, such as NMS outputs).
        notes: Extra lines explaining the verdict.
    """

    reference: str
    target: str
    outputs: list[OutputDiff]
    samples: int
    rtol: float
    atol: float
    reference_ms: float | None = None
    target_ms: float | None = None
    ok: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every element is within tolerance (or the explicit verdict says so)."""
        if self.ok is not None:
            return self.ok
        return all(o.mismatched == 0 for o in self.outputs)

    @property
    def max_abs(self) -> float:
        """Largest absolute difference over every output."""
        return max((o.max_abs for o in self.outputs), default=0.0)

    @property
    def mse(self) -> float:
        """Mean squared error over every element of every output."""
        size = sum(o.size for o in self.outputs)
        return sum(o.sse for o in self.outputs) / size if size else 0.0

    @property
    def rel_l2(self) -> float:
        """Relative L2 error over every output together."""
        ref = sum(o.ref_sq for o in self.outputs)
        sse = sum(o.sse for o in self.outputs)
        return math.sqrt(sse / ref) if ref > 0 else math.sqrt(sse)

    @property
    def title(self) -> str:
        return f"{self.reference} vs {self.target}"

    def summary(self) -> str:
        """One line, e.g. ``PyTorch vs ONNX Runtime: max abs 1.2e-06, MSE 3.1e-14, rel L2 2.0e-07, …``."""
        parts = [f"max abs {_sci(self.max_abs)}", f"MSE {_sci(self.mse)}", f"rel L2 {_sci(self.rel_l2)}"]
        if self.reference_ms is not None:
            parts.append(f"{self.reference} {_ms(self.reference_ms)} ms")
        if self.target_ms is not None:
            parts.append(f"{self.target} {_ms(self.target_ms)} ms")
        verdict = "ok" if self.passed else "FAILED"
        return f"{self.title}: " + ", ".join(parts) + f" [{verdict}]"

    def details(self) -> str:
        """A per-output table (which output differs, by how much, how many elements are off)."""
        rows = [["output", "shape", "max abs", "MSE", "rel L2", "off-tolerance"]]
        for o in self.outputs:
            rows.append(
                [
                    o.name,
                    "x".join(map(str, o.shape)),
                    _sci(o.max_abs),
                    _sci(o.mse),
                    _sci(o.rel_l2),
                    f"{o.mismatched}/{o.size}",
                ]
            )
        text = format_table(rows)
        lines = [f"{self.title} on {self.samples} input(s), tolerance |d| <= {self.atol:g} + {self.rtol:g}*|ref|", text]
        lines += self.notes
        return "\n".join(lines)


@dataclass
class ExportReport:
    """Everything an export did: the file, how it was made, and how closely it matches the original.

    ``str(report)`` is a short table in the style of the classic "PyTorch → ONNX → TensorRT"
    tutorials: max abs difference, MSE, relative L2 error and both latencies per comparison.
    """

    path: Path
    opset: int
    exporter: str
    simplified: bool
    inputs: dict[str, tuple]
    outputs: dict[str, tuple]
    metadata: dict[str, str] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    seconds: float = 0.0
    simplify_error: str | None = None
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every comparison passed (vacuously true when nothing was verified)."""
        return all(c.passed for c in self.comparisons)

    def comparison(self, target: str) -> Comparison:
        """The comparison whose target is ``target`` (e.g. ``"ONNX Runtime"``)."""
        for c in self.comparisons:
            if c.target == target:
                return c
        raise KeyError(f"no comparison against {target!r}; have {[c.target for c in self.comparisons]}")

    def __str__(self) -> str:
        size = self.path.stat().st_size / 1e6 if self.path.is_file() else float("nan")
        simp = "simplified by onnxslim" if self.simplified else "not simplified"
        if self.simplify_error:
            simp += f" (onnxslim failed: {self.simplify_error})"
        lines = [
            f"ONNX export: {self.path} (opset {self.opset}, {self.exporter} exporter, {simp}, {size:.1f} MB, "
            f"{self.seconds:.1f} s)"
        ]
        lines += [f"  input  {n} {list(s)}" for n, s in self.inputs.items()]
        lines += [f"  output {n} {list(s)}" for n, s in self.outputs.items()]
        lines += [f"  also wrote {p}" for p in self.files]
        lines += [f"  {n}" for n in self.notes]
        if self.comparisons:
            rows = [["comparison", "inputs", "max abs", "MSE", "rel L2", "ref ms", "target ms", "result"]]
            for c in self.comparisons:
                rows.append(
                    [
                        c.title,
                        str(c.samples),
                        _sci(c.max_abs),
                        _sci(c.mse),
                        _sci(c.rel_l2),
                        _ms(c.reference_ms),
                        _ms(c.target_ms),
                        "ok" if c.passed else "FAILED",
                    ]
                )
            lines.append(format_table(rows))
            for c in self.comparisons:
                lines += [f"  {n}" for n in c.notes]
        else:
            lines.append("not verified")
        return "\n".join(lines)


def format_table(rows: list[list[str]]) -> str:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]

    def fmt(r: list[str]) -> str:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    out = [fmt(rows[0]), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in rows[1:]]
    return "\n".join(out)

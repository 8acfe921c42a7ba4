"""What an export did and how closely the exported model matches the original.

The comparisons themselves are `lite.tools.parity.Comparison` (lite's one comparator); this
module adds the export around them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lite.tools.parity import Comparison, OutputDiff, _ms, _sci, format_table

__all__ = ["OutputDiff", "Comparison", "ExportReport", "format_table"]


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

"""Plot the JSON of ``benchmarks/bench_speed.py`` (needs matplotlib).

Three panels: per backend, the engine floor and ``detect()`` (median ms, the ms over the floor
written on the bar); the ms each pipeline adds over its own ``session.run`` (lite, a tutorial
ORT + numpy pipeline, ultralytics); folder throughput in images per second.

Usage::

    python benchmarks/plot_speed.py docs/assets/bench_speed.png docs/assets/bench_speed_1thread.json \
        docs/assets/bench_speed_ultralytics.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def plot(data: dict[str, Any], out: Path) -> Path:
    """Draw the three panels of ``data`` (the bench_speed JSON) into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = data["rows"]
    back = [r for r in rows if r["suite"] == "backends"]
    pairs = [r for r in rows if r["suite"] in ("tutorial", "ultralytics")]
    folder = [r for r in rows if r["suite"] == "folder"]
    panels = [p for p in (back, pairs, folder) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 4.8), squeeze=False)
    axes = list(axes[0])
    if back:
        ax = axes.pop(0)
        labels = [r["label"] for r in back]
        y = range(len(back))
        ax.barh([i + 0.2 for i in y], [r["floor"] for r in back], 0.4, label="engine floor (raw_runner)")
        bars = ax.barh([i - 0.2 for i in y], [r["detect"] for r in back], 0.4, label="lite detect()")
        for b, r in zip(bars, back, strict=True):
            ax.text(b.get_width(), b.get_y() + b.get_height() / 2, f" +{r['over_ms']:.2f} ms ({r['ratio']:.2f}x)",
                    va="center", fontsize=7)  # fmt: skip
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("median ms per image (bus.jpg)")
        ax.set_title("detect() vs the engine's bare call")
        ax.legend(fontsize=7, loc="center right")
        ax.margins(x=0.3)
    if pairs:
        ax = axes.pop(0)
        labels = [r["label"] for r in pairs]
        vals = [r["over_ms"] for r in pairs]
        bars = ax.barh(range(len(pairs)), vals, color=["C2" if r["label"].startswith("lite") else "C3" for r in pairs])
        for b, r in zip(bars, pairs, strict=True):
            ax.text(max(b.get_width(), 0), b.get_y() + b.get_height() / 2,
                    f" {r['over_ms']:.2f} ms over {r['floor']:.1f}", va="center", fontsize=7)  # fmt: skip
        ax.set_yticks(range(len(pairs)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("ms added over the same model's session.run (median)")
        ax.set_title("what each pipeline adds")
        ax.margins(x=0.35)
    if folder:
        ax = axes.pop(0)
        labels = [r["label"] for r in folder]
        bars = ax.barh(range(len(folder)), [r["ips"] for r in folder], color="C4")
        for b, r in zip(bars, folder, strict=True):
            ax.text(b.get_width(), b.get_y() + b.get_height() / 2, f" {r['ips']:.1f}/s", va="center", fontsize=7)
        ax.set_yticks(range(len(folder)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("images per second (128 COCO images, with model load)")
        ax.set_title("folder throughput")
        ax.margins(x=0.25)
    fig.suptitle(data.get("header", "").lstrip("# "), fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _loop_of(row: dict[str, Any], folder: list[dict[str, Any]]) -> dict[str, Any]:
    """The plain-loop row measured in the same run (same thread suffix) as ``row``."""
    suffix = row["label"][row["label"].rfind(" ("):] if row["label"].endswith("thr)") else ""
    same = [r for r in folder if r["info"].get("mode") == "loop" and r["label"].endswith(suffix)]
    return same[0] if same else row


def markdown(data: dict[str, Any]) -> str:
    """The rows as Markdown tables (what docs/benchmark.md shows)."""
    rows = data["rows"]
    out = []
    back = [r for r in rows if r["suite"] == "backends"]
    if back:
        out += ["| subject | floor ms | detect() ms | ratio | ms over | pre | infer | post | CPU ratio | fused |",
                "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        out += [f"| {r['label']} | {r['floor']:.2f} | {r['detect']:.2f} | {r['ratio']:.3f} | {r['over_ms']:.2f} | "
                f"{r.get('pre', float('nan')):.2f} | {r.get('infer', float('nan')):.2f} | "
                f"{r.get('post', float('nan')):.2f} | {r.get('ratio_cpu', float('nan')):.3f} | "
                f"{'yes' if r['info'].get('fused') else 'no'} |" for r in back]  # fmt: skip
        out.append("")
    pairs = [r for r in rows if r["suite"] in ("tutorial", "ultralytics")]
    if pairs:
        out += ["| subject | its session.run ms | end to end ms | adds ms | CPU adds ms | detections |",
                "|---|---|---|---|---|---|"]  # fmt: skip
        out += [f"| {r['label']} | {r['floor']:.2f} | {r['detect']:.2f} | {r['over_ms']:.2f} | "
                f"{r.get('over_cpu_ms', float('nan')):.2f} | {r['info'].get('detections', '?')} |" for r in pairs]
        out.append("")
    folder = [r for r in rows if r["suite"] == "folder"]
    if folder:
        out += ["| subject | s per pass | images/s | x plain loop |", "|---|---|---|---|"]
        for r in folder:
            base = _loop_of(r, folder)
            out.append(f"| {r['label']} | {r['pass'] / 1e3:.3f} | {r['ips']:.1f} | {base['pass'] / r['pass']:.3f} |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("png", type=Path, help="the image to write")
    ap.add_argument("json", type=Path, nargs="+", help="bench_speed.py JSON files (rows are concatenated)")
    ap.add_argument("--markdown", action="store_true", help="also print the rows as Markdown tables")
    args = ap.parse_args(argv)
    data: dict[str, Any] = {"header": "", "rows": []}
    for path in args.json:
        one = json.loads(path.read_text(encoding="utf-8"))
        header = one.get("header", "")
        threads = header.split("threads=")[1].split(",")[0] if "threads=" in header else "?"
        for r in one["rows"]:
            r["label"] += f" ({threads} thr)" if len(args.json) > 1 else ""
        data["rows"] += one["rows"]
        data["header"] += ("\n" if data["header"] else "") + one.get("header", "")
    print(plot(data, args.png))
    if args.markdown:
        print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Accuracy of the trackers lite offers on synthetic crossing sequences: prints a table (not a test).

Ten sequences of `lite.demo.tracks` (seeds 0-4, 6 and 8 objects, 60 frames), the bundled demo detector at
``lite eval``'s settings, each tracker scored with TrackEval (MOTA, IDF1, HOTA)::

    python benchmarks/bench_tracking_accuracy.py [--out /tmp/seqs]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    from lite.cv import Detector
    from lite.cv.track import TRACKERS
    from lite.demo.tracks import write_sequence
    from lite.hub import default_model
    from lite.tools.mot import track_sequence

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="where the sequences go (default: a temporary folder)")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    det = Detector.from_file(default_model(), conf=0.03, iou=0.65, max_det=300)
    res: dict[str, list[tuple[float, float, float, int]]] = {t: [] for t in TRACKERS}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        for seed in range(args.seeds):
            for n in (6, 8):
                seq = write_sequence(root / f"seq_{seed}_{n}", n_frames=60, n_objects=n, seed=seed)
                for t in res:
                    r = track_sequence(det, seq, tracker=t)
                    res[t].append((r.MOTA, r.IDF1, r.HOTA, r.counts["IDSW"]))
    det.close()
    print("| tracker | MOTA mean | MOTA min | IDF1 mean | IDF1 min | HOTA mean | ID switches (total) |")
    print("|---|---|---|---|---|---|---|")
    for t, v in res.items():
        a = np.array(v)
        print(
            f"| {t} | {a[:, 0].mean():.3f} | {a[:, 0].min():.3f} | {a[:, 1].mean():.3f} | {a[:, 1].min():.3f} | "
            f"{a[:, 2].mean():.3f} | {int(a[:, 3].sum())} |"
        )


if __name__ == "__main__":
    main()

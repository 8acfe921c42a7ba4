"""Throughput of ``lite.tools.distributed`` on one node vs two nodes, and what each fault costs, on this machine.

The cluster is the one docs/distributed.md starts: ``ray start --head`` and a second ``ray start --address``
raylet, both on this machine (``tests/ray_cluster.py``). Input: the 128 COCO images (``--repeat`` times) read
with ``ray.data.read_binary_files`` (read tasks, decoding on the actors), the default sizing, YOLOv6Lite-S 320 on
ONNX Runtime. Runs, in rotating order for ``--rounds`` rounds (medians reported):

* ``1 node``: the head alone (the second raylet stopped);
* ``2 nodes``: head + second node;
* ``2 nodes, actor killed``: one actor ends its process at its 3rd batch (Ray restarts it, its batches are redone);
* ``2 nodes, node killed``: the second node is killed ``--kill-after`` s into the job (its actors' batches are
  redone on the head); the node is started again after the run. This run takes a list of paths (no read
  tasks): with ``read_binary_files`` input, killing the node crashed the driver once here (a check failure
  inside Ray 2.60's core worker, ``accessor.cc``), which lite cannot catch; ``resume`` is the remedy;
* ``2 nodes, paths``: the same list-of-paths job, nothing killed (the baseline of the node-killed run);
* ``2 nodes, model missing on node 2``: ``model_on_every_node=True`` with a path node 2 cannot open: seconds
  until the lite error that names the node;
* ``2 nodes, driver killed + resume``: a driver process writing Parquet is killed once its first file is
  written; ``detect_to_parquet(..., resume=True)`` finishes the job; seconds of both drivers together.

Run: ``python benchmarks/bench_ray_cluster.py [--rounds 3] [--repeat 1] [--head-cpus 2] [--node-cpus 2]``.
Models are read from ``$LITE_SHARED`` or ``../shared`` (never copied into the repository).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
from _shared import shared_root  # noqa: E402  (benchmarks/_shared.py, beside this script)

sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # tests/ray_cluster.py: the cluster the tests use

MODEL = "models/yolov6lite/onnx/yolov6lite_s_320_decoded.onnx"


def run_job(model: str, paths: list[str], *, reads: bool = True, **kw: object) -> float:
    """One job over ``paths`` (read_binary_files input, or the list itself without ``reads``), default sizing;
    its seconds; every row checked present."""
    import ray

    from lite.tools.distributed import collect, detect_dataset

    t0 = time.perf_counter()
    ds = ray.data.read_binary_files(paths, include_paths=True) if reads else paths
    rows, summary = collect(detect_dataset(ds, model, batch_size=8, **kw), stall_timeout=120)
    seconds = time.perf_counter() - t0
    if summary.images != len(paths) or summary.failed:
        raise SystemExit(f"lost or failed rows: {summary.report()}")
    return seconds


def run_node_killed(cluster: object, model: str, paths: list[str], after: float) -> float:
    from ray_cluster import stop_node

    killer = threading.Timer(after, stop_node, args=(cluster.node,))
    killer.start()
    try:  # a list of paths: with read_binary_files the driver itself crashed once here (a Ray 2.60 check failure)
        return run_job(model, paths, reads=False)
    finally:
        killer.join()


def run_model_missing(cluster: object, model: str, paths: list[str]) -> float:
    from lite.core.errors import ModelNotFoundError
    from lite.tools.distributed import collect, detect_dataset

    link = cluster.head_dir / "m.onnx"
    if not link.exists():
        link.symlink_to(model)
    cwd = os.getcwd()
    os.chdir(cluster.head_dir)  # /proc/self/cwd/m.onnx: there for the driver and the head, not for node 2
    t0 = time.perf_counter()
    try:
        collect(detect_dataset(paths, "/proc/self/cwd/m.onnx", model_on_every_node=True), stall_timeout=120)
    except ModelNotFoundError:
        return time.perf_counter() - t0
    finally:
        os.chdir(cwd)
    raise SystemExit("the job with the model missing on node 2 did not fail")


def run_driver_killed(cluster: object, model: str, paths: list[str]) -> float:
    from lite.tools.distributed import detect_to_parquet

    out = Path(tempfile.mkdtemp(dir=cluster.root)) / "pq"
    code = (
        "import ray\nfrom lite.tools.distributed import detect_to_parquet\n"
        f"ray.init(address={cluster.address!r}, log_to_driver=False)\n"
        "ray.data.DataContext.get_current().enable_progress_bars = False\n"
        f"detect_to_parquet({paths!r}, {model!r}, {str(out)!r}, batch_size=8)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    driver = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    while not list(out.glob("*.parquet")):
        if driver.poll() is not None:
            raise SystemExit("the first driver ended before writing anything")
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    summary = detect_to_parquet(paths, model, out, resume=True, batch_size=8, stall_timeout=120)
    if summary.failed:
        raise SystemExit(summary.report())
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=1, help="repeat the 128 images this many times")
    ap.add_argument("--head-cpus", type=int, default=2)
    ap.add_argument("--node-cpus", type=int, default=2)
    ap.add_argument("--kill-after", type=float, default=4.0, help="seconds into the job the node is killed")
    args = ap.parse_args()

    import ray
    from ray_cluster import TwoNodes, stop_node

    shared = shared_root()
    model = str(shared / MODEL)
    paths = [str(p) for p in sorted((shared / "coco" / "val2017_128" / "images").glob("*.jpg"))] * args.repeat
    root = Path(tempfile.mkdtemp(prefix="lite-bench-cluster-"))
    cluster = TwoNodes(root, head_cpus=args.head_cpus, node_cpus=args.node_cpus)
    names = ["1 node", "2 nodes", "2 nodes, paths", "2 nodes, actor killed", "2 nodes, node killed",
             "2 nodes, model missing on node 2", "2 nodes, driver killed + resume"]  # fmt: skip
    results: dict[str, list[float]] = {n: [] for n in names}
    try:
        cluster.start(nodes=2)
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                want = 1 if name == "1 node" else 2
                if want == 1 and len([n for n in ray.nodes() if n.get("Alive")]) == 2:
                    stop_node(cluster.node)
                    cluster.wait_nodes(1)
                elif want == 2 and len([n for n in ray.nodes() if n.get("Alive")]) == 1:
                    cluster.add_node()
                    cluster.wait_nodes(2)
                if name in ("1 node", "2 nodes"):
                    s = run_job(model, paths)
                elif name == "2 nodes, paths":
                    s = run_job(model, paths, reads=False)
                elif name == "2 nodes, actor killed":
                    marker = root / f"crashed-{r}"
                    s = run_job(model, paths, _crash_after=(2, str(marker)))
                    if not marker.exists():
                        raise SystemExit("no actor was killed")
                elif name == "2 nodes, node killed":
                    s = run_node_killed(cluster, model, paths, args.kill_after)
                elif name == "2 nodes, model missing on node 2":
                    s = run_model_missing(cluster, model, paths)
                else:
                    s = run_driver_killed(cluster, model, paths)
                results[name].append(s)
                print(f"round {r + 1}: {name:34s} {s:6.1f} s", file=sys.stderr, flush=True)
    finally:
        cluster.stop()

    base = statistics.median(results["2 nodes"])
    base_paths = statistics.median(results["2 nodes, paths"])
    print(
        f"\n{len(paths)} images (val2017_128 x {args.repeat}, read_binary_files), YOLOv6Lite-S 320 ORT, default "
        f"sizing; head {args.head_cpus} CPUs + node {args.node_cpus} CPUs on one {os.cpu_count()}-core machine; "
        f"median of {args.rounds} interleaved rounds\n"
    )
    print("| run | seconds | images/s | cost vs the same input on 2 nodes |")
    print("|---|---:|---:|---:|")
    for name in names:
        s = statistics.median(results[name])
        rate = "-" if "missing" in name else f"{len(paths) / s:.1f}"
        ref = base_paths if name.endswith(("paths", "node killed")) else base
        print(f"| {name} | {s:.1f} | {rate} | {s - ref:+.1f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

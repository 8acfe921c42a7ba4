"""lite.tools.distributed on a real two-node Ray cluster: a head and a second raylet started with ``ray start
--address`` on this machine, as docs/distributed.md shows. Read tasks with the default sizing, a model that one
node lacks, a wrong token, a driver killed and resumed, a relative model path in the job's working_dir, ``ray job
submit`` and ``ray list``, a node killed mid-job. The cluster is the processes this module starts; teardown ends
them (their process groups), pass or fail.

The cluster is the run's one Ray cluster (``ray_cluster`` in tests/conftest.py, shared with test_distributed.py,
whatever order the modules run in): this module adds the second node and ends it."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lite.data.detections import Detections

ray = pytest.importorskip("ray")

from ray_cluster import NO_AUTH, RAY, RAY_DEFAULT, alive_nodes, free_port, start_node, stop_node  # noqa: E402

MODEL = "models/yolov6lite/onnx/yolov6lite_s_320_decoded.onnx"
COCO = "coco/val2017_128"


@pytest.fixture(scope="module")
def two_nodes(ray_cluster):
    """The run's Ray cluster (tests/conftest.py) with a second node for this module."""
    ray_cluster.add_node()
    try:
        ray_cluster.wait_nodes(2)
        yield ray_cluster
    finally:
        ray_cluster.remove_node()


@pytest.fixture(scope="module")
def model(shared: Path) -> str:
    return str(shared / MODEL)


@pytest.fixture(scope="module")
def coco_images(shared: Path) -> list[Path]:
    return sorted((shared / COCO / "images").glob("*.jpg"))[:48]


@pytest.fixture(scope="module")
def plain_loop(model: str, coco_images: list[Path]) -> dict[str, Detections]:
    from lite.cv.yolov6 import YOLOv6

    with YOLOv6(model, threads=1) as det:
        return {p.name: det.detect(p) for p in coco_images}


def _check_rows(rows: list[dict], plain_loop: dict[str, Detections]) -> None:
    names = next(iter(plain_loop.values())).names
    assert sorted(Path(r["path"]).name for r in rows) == sorted(plain_loop)  # every image exactly once
    for r in rows:
        assert r["error"] is None, r["error"]
        assert Detections.from_record(r, names=names) == plain_loop[Path(r["path"]).name]


def test_read_tasks_with_default_sizing_finish(two_nodes, model, coco_images, plain_loop) -> None:
    """read_binary_files needs a whole CPU per read task: the default pool must leave one on some node."""
    from lite.tools.distributed import collect, detect_dataset, plan_resources

    assert len(alive_nodes()) == 2
    plan = plan_resources(cpus=3, nodes=2)
    assert plan.actors == 3 and plan.actors * plan.num_cpus <= 3 - 2
    ds = ray.data.read_binary_files([str(p) for p in coco_images], include_paths=True)
    rows, summary = collect(detect_dataset(ds, model, batch_size=8), stall_timeout=60)
    assert summary.images == len(coco_images) and summary.failed == 0
    _check_rows(rows, plain_loop)


def test_impossible_sizing_is_refused_on_the_driver(two_nodes, model, coco_images) -> None:
    from lite.core.errors import InputError
    from lite.tools.distributed import detect_dataset

    with pytest.raises(InputError, match="would hang"):
        detect_dataset([str(p) for p in coco_images], model, concurrency=2, num_cpus=1)
    with pytest.raises(InputError, match="no node has 3 CPUs"):
        detect_dataset([str(p) for p in coco_images], model, concurrency=1, num_cpus=3)


def test_stalled_job_is_a_lite_error_naming_the_cause(two_nodes, model, coco_images) -> None:
    """Actors that can never be placed (a resource no node has): the watchdog ends the wait with the cause."""
    from lite.core.errors import StalledJobError
    from lite.tools.distributed import collect, detect_dataset

    out = detect_dataset([str(p) for p in coco_images[:4]], model, concurrency=1,
                         ray_remote_args={"resources": {"lite_test_no_such_resource": 1}})  # fmt: skip
    t0 = time.perf_counter()
    with pytest.raises(StalledJobError, match=r"no batch finished for \d+ s; the cluster has .* CPUs free") as info:
        collect(out, stall_timeout=4)
    assert time.perf_counter() - t0 < 30
    assert "1 actors x" in str(info.value) and "Likely cause" in str(info.value)
    # the job is ended, not left running (it would hold its actors, and end the process once the cluster is gone)
    import threading

    left = [t.name for t in threading.enumerate() if t.name.startswith(("lite-ray-job", "StreamingExecutor-"))]
    assert not left, left


def test_model_missing_on_one_node(two_nodes, model, coco_images, plain_loop, monkeypatch) -> None:
    """A model path that leads somewhere on the head only: a lite error naming the node; shipped (default): fine.

    ``/proc/self/cwd/m.onnx`` is the same absolute path everywhere, but each process reads it in its own working
    folder: the driver's and the head's workers' (``head_dir``, which holds ``m.onnx``), or node 2's (which does
    not) -- a path on storage that one node lacks, on one machine.
    """
    from lite.core.errors import ModelNotFoundError
    from lite.tools.distributed import collect, detect_dataset

    (two_nodes.head_dir / "m.onnx").symlink_to(model)
    monkeypatch.chdir(two_nodes.head_dir)
    where = "/proc/self/cwd/m.onnx"
    paths = [str(p) for p in coco_images[:24]]
    node2 = [n["NodeID"][:12] for n in alive_nodes() if not n["Resources"].get("CPU", 0) >= 2]
    t0 = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match=rf"cannot be read on node\(s\) [\d.]+ \(node {node2[0]}\)"):
        detect_dataset(paths, where, concurrency=3, model_on_every_node=True)  # checked on each node first
    print(f"\nmodel missing on one node: lite error after {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    rows, summary = collect(detect_dataset(paths, where, concurrency=3), stall_timeout=60)  # 2 nodes: shipped
    print(f"model shipped through the object store: {len(paths)} images in {time.perf_counter() - t0:.1f} s")
    assert summary.failed == 0 and summary.images == 24
    _check_rows(rows, {k: v for k, v in plain_loop.items() if k in {Path(p).name for p in paths}})


def test_wrong_token_is_a_lite_error_with_the_fix(tmp_path) -> None:
    """A head with token authentication; drivers (new processes: Ray reads the mode at import) with a wrong and
    with the right token."""
    token = secrets.token_hex(32)
    port = free_port()
    address = f"{ray.util.get_node_ip_address()}:{port}"
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
    head = start_node(["--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false"], tmp_path,
                  tmp_path / "head.log", auth)  # fmt: skip
    code = (
        "from lite.tools.distributed import connect, cluster, _ray\n"
        "from lite.core.errors import ClusterError\n"
        "try:\n"
        f"    connect({address!r})\n"
        "    print('nodes:', len(cluster(_ray()).nodes))\n"
        "except ClusterError as e:\n"
        "    print('ClusterError:', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | auth | {"RAY_gcs_server_port_wait_time_s": "3"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    try:
        deadline = time.monotonic() + 60
        while "Ray runtime started" not in (tmp_path / "head.log").read_text():
            assert time.monotonic() < deadline and head.poll() is None, (tmp_path / "head.log").read_text()[-2000:]
            time.sleep(0.2)
        wrong = subprocess.run([sys.executable, "-c", code], env=env | {"RAY_AUTH_TOKEN": "0" * 64},
                               capture_output=True, text=True, timeout=90).stdout  # fmt: skip
        right = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=90)
    finally:
        stop_node(head)
    assert "ClusterError: could not connect" in wrong and "RAY_AUTH_TOKEN" in wrong and "get-auth-token" in wrong
    assert "nodes: 1" in right.stdout, right.stderr[-2000:]


def test_resume_after_a_killed_driver(two_nodes, model, coco_images, plain_loop, tmp_path) -> None:
    """A driver killed (SIGKILL) once some Parquet files are written; resume=True detects only the rest."""
    import pyarrow.parquet as pq

    from lite.tools.distributed import detect_to_parquet

    out = tmp_path / "pq"
    paths = [str(p) for p in coco_images]
    code = (
        "import ray\n"
        "from lite.tools.distributed import detect_to_parquet\n"
        f"ray.init(address={two_nodes.address!r}, log_to_driver=False)\n"
        "ray.data.DataContext.get_current().enable_progress_bars = False\n"
        f"detect_to_parquet({paths!r}, {model!r}, {str(out)!r}, concurrency=3, batch_size=2)\n"
        "print('finished before it was killed', flush=True)\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    driver = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    t0 = time.perf_counter()
    try:
        while not list(out.glob("*.parquet")):
            assert driver.poll() is None and time.perf_counter() - t0 < 120, "the first driver wrote nothing"
            time.sleep(0.05)
        time.sleep(1.0)
    finally:
        driver.kill()
        driver.wait(10)
    assert driver.returncode == -signal.SIGKILL
    before = {f.name for f in out.glob("*.parquet")}
    t1 = time.perf_counter()
    summary = detect_to_parquet(paths, model, out, resume=True, concurrency=3, batch_size=2, stall_timeout=60)
    print(f"\nresume after a killed driver: {summary.images} rows left, done in {time.perf_counter() - t1:.1f} s")
    assert 0 < summary.images < len(paths) and summary.failed == 0  # only what the killed run had not written
    kept = {f.name for f in out.glob("*.parquet")}
    assert before <= kept | {f.name.removesuffix(".incomplete") for f in out.glob("*.incomplete")}
    rows = [r for f in sorted(out.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    _check_rows(rows, plain_loop)  # every image exactly once, right detections


def test_relative_model_in_working_dir_is_opened_there(two_nodes, model, coco_images, plain_loop, tmp_path) -> None:
    """A relative model path with the job's ``runtime_env`` ``working_dir``: kept relative (not made absolute, not
    shipped) and opened by the actors of both nodes in the copy of the working_dir Ray gives each node.

    The driver (a new process: a job's runtime_env is set by ``ray.init``) runs in a folder without ``rel.onnx``;
    the raylets' own folders (the workers' folder without a working_dir) hold a broken one: only the working_dir's
    copy gives the right detections."""
    wd = tmp_path / "job"
    wd.mkdir()
    shutil.copy(model, wd / "rel.onnx")
    for d in (two_nodes.head_dir, two_nodes.node_dir):
        (d / "rel.onnx").write_bytes(b"not a model")
    paths = [str(p) for p in coco_images[:6]]  # one batch of 2 per actor
    code = (
        "import ray\n"
        "from lite.tools.distributed import _job_working_dir, collect, detect_dataset, ship_model\n"
        f"ray.init(address={two_nodes.address!r}, runtime_env={{'working_dir': {str(wd)!r}}}, log_to_driver=False)\n"
        "ray.data.DataContext.get_current().enable_progress_bars = False\n"
        "ref = ship_model(ray, 'rel.onnx', on_every_node=None, nodes=2, working_dir=_job_working_dir(ray))\n"
        "print('model:', ref.name, ref.files is None, _job_working_dir(ray).split('://')[0])\n"
        f"rows, summary = collect(detect_dataset({paths!r}, 'rel.onnx', concurrency=3, batch_size=2), "
        "stall_timeout=90)\n"
        "print('rows:', summary.images, summary.failed, sum(len(r['boxes']) for r in rows))\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=150)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "model: rel.onnx True gcs" in run.stdout  # relative, nothing through the object store; Ray's upload
    boxes = sum(len(plain_loop[Path(p).name]) for p in paths)
    assert f"rows: 6 0 {boxes}" in run.stdout, run.stdout + run.stderr[-3000:]
    node2 = list(Path(two_nodes.temp_dirs[-1]).glob("session_*/runtime_resources/working_dir_files/*/rel.onnx"))
    assert node2, "the second node never unpacked the working_dir: its actors did not run there"


LABEL = """\
from lite.tools.distributed import collect, connect, detect_dataset

connect()  # inside a Ray job: $RAY_ADDRESS, the cluster that runs it
rows, summary = collect(detect_dataset({paths!r}, {model!r}, concurrency=1, batch_size=4))
print("lite job:", summary.images, "images,", summary.failed, "failed,", sum(len(r["boxes"]) for r in rows), "boxes")
"""


@pytest.mark.skipif(not RAY_DEFAULT, reason="needs ray[default] (pip install 'lite-detect[ray-cluster]')")
def test_ray_job_submit_runs_a_lite_job(two_nodes, model, coco_images, plain_loop, tmp_path) -> None:
    """``ray job submit`` (ray[default], the [ray-cluster] extra) as docs/distributed.md runs it: the driver runs on
    the cluster, in the working_dir it uploads (with the model, by a relative path); ``ray list nodes`` sees both
    nodes."""
    paths = [str(p) for p in coco_images[:4]]
    wd = tmp_path / "job"
    wd.mkdir()
    shutil.copy(model, wd / "rel.onnx")  # a relative path, opened in each node's copy of the working_dir
    (wd / "label.py").write_text(LABEL.format(paths=paths, model="rel.onnx"))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN")} | NO_AUTH
    listed = subprocess.run([RAY, "list", "nodes", "--address", two_nodes.address], env=env, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert listed.returncode == 0 and listed.stdout.count("ALIVE") == len(alive_nodes()) == 2, listed.stderr[-2000:]
    t0 = time.perf_counter()
    for _ in range(3):  # a head whose dashboard agent is not registered yet answers 500 "try again later"
        job = subprocess.run([RAY, "job", "submit", "--address", two_nodes.dashboard, "--working-dir", str(wd), "--",
                              "python", "label.py"], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        if "No available agent to submit job" not in job.stdout + job.stderr:
            break
        time.sleep(5)
    print(f"\nray job submit: {time.perf_counter() - t0:.1f} s")
    boxes = sum(len(plain_loop[Path(p).name]) for p in paths)
    assert job.returncode == 0, (job.stdout + job.stderr)[-3000:]
    assert f"lite job: 4 images, 0 failed, {boxes} boxes" in job.stdout, job.stdout[-3000:]
    assert "succeeded" in job.stdout + job.stderr


def test_killed_node_mid_job(two_nodes, model, coco_images, plain_loop) -> None:
    """The second node dies while its actors work: the head's actors finish the job, every row once."""
    import threading

    from lite.tools.distributed import collect, detect_dataset

    paths = [str(p) for p in coco_images]

    def kill_later() -> None:
        time.sleep(4)
        stop_node(two_nodes.node)

    killer = threading.Thread(target=kill_later)
    t0 = time.perf_counter()
    killer.start()
    rows, summary = collect(detect_dataset(paths, model, concurrency=3, batch_size=4), stall_timeout=90)
    killer.join()
    print(f"killed node: {summary.images} rows in {time.perf_counter() - t0:.1f} s")
    assert two_nodes.node.poll() is not None, "the node was not killed while the job ran"
    assert summary.images == len(paths) and summary.failed == 0
    _check_rows(rows, plain_loop)

"""Shared fixtures: where the real models and images live (../shared or $LITE_SHARED)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_root() -> Path | None:
    """The shared assets folder, or None when it is absent."""
    env = os.environ.get("LITE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared")
    for c in candidates:
        if (c / "models").is_dir():
            return c
    return None


SHARED = shared_root()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared (or $LITE_SHARED) is absent: no real models")


@pytest.fixture(scope="session")
def shared() -> Path:
    """Path of the shared assets; skips the test when the folder is absent."""
    if SHARED is None:
        pytest.skip("../shared (or $LITE_SHARED) is absent: no real models")
    return SHARED


@pytest.fixture(scope="session")
def onnx_dir(shared: Path) -> Path:
    return shared / "models" / "yolov6lite" / "onnx"


@pytest.fixture(scope="session")
def ncnn_dir(shared: Path) -> Path:
    return shared / "models" / "yolov6lite" / "ncnn"


@pytest.fixture(scope="session")
def images_dir(shared: Path) -> Path:
    return shared / "images"


@pytest.fixture(scope="session")
def bus_path(images_dir: Path) -> Path:
    return images_dir / "bus.jpg"


# ------------------------------------------------------------------------------------------ Ray
# One Ray cluster, and one driver session of this process, for every Ray test of a run (tests/test_cluster_ray.py,
# tests/test_distributed.py): a second Ray session in the same process is not safe with Ray 2.60. Ray Data's
# actors of the second session then often die before they start ("all references to the actor were removed ...
# never ran"); measured here with the modules in either order, after a local `ray.init` and after a `ray start`
# cluster alike. (Likely: the first job of every fresh cluster has the same id, 01000000, so ids derived from it
# repeat, and references of the old session that Python frees later are counted against the new one's.)
_RAY_CLUSTER: dict[str, object] = {}


def _uses_ray(item: pytest.Item) -> bool:
    return "ray_cluster" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that use the Ray cluster run one after the other (from where the first one was), so the cluster
    can end as soon as the last one is done."""
    ray_items = [i for i in items if _uses_ray(i)]
    if not ray_items:
        return
    first = items.index(ray_items[0])
    rest = [i for i in items if not _uses_ray(i)]
    items[:] = rest[:first] + ray_items + rest[first:]


def _stop_ray_cluster() -> None:
    cluster = _RAY_CLUSTER.pop("cluster", None)
    if cluster is not None:
        cluster.stop()


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """The run's Ray cluster (tests/ray_cluster.py): a head of 2 CPUs started with ``ray start`` (with its dashboard
    when ray[default] is installed), this process connected as its driver. Modules add and remove nodes."""
    pytest.importorskip("ray")
    from ray_cluster import RAY_DEFAULT, TwoNodes

    cluster = TwoNodes(tmp_path_factory.mktemp("ray"), head_cpus=2, node_cpus=1, dashboard=RAY_DEFAULT)
    _RAY_CLUSTER["cluster"] = cluster
    try:
        cluster.start(nodes=1)
        yield cluster
    finally:
        _stop_ray_cluster()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After the last test that uses the Ray cluster (and its modules' fixtures): end the cluster."""
    result = yield
    if _uses_ray(item) and (nextitem is None or not _uses_ray(nextitem)):
        _stop_ray_cluster()
    return result

"""lite.tools.distributed with segmentation and pose models: the ``masks`` (COCO RLE) and ``keypoints`` columns, their
Parquet round trip, and a classifier refused with a message that names what to use."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lite.core.errors import TaskNotSupportedError
from lite.data.detections import Detections
from lite.demo import task_model_path
from lite.demo.scenes import make_diamond_scene, make_instance_scene

pytest.importorskip("onnxruntime")
pa = pytest.importorskip("pyarrow")
CONF = {"segment": 0.1, "pose": 0.25}


def _scenes(folder: Path, task: str, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    make = make_instance_scene if task == "segment" else make_diamond_scene
    paths = []
    for i in range(n):
        p = (folder / f"{task}_{i}.png").resolve()
        cv2.imwrite(str(p), make(rng).image)
        paths.append(p)
    return paths


def _plain(task: str, paths: list[Path]) -> dict[str, Detections]:
    from lite.cv import Detector

    with Detector.from_file(task_model_path(task), threads=1, conf=CONF[task]) as det:
        return {str(p): det.detect(p) for p in paths}


@pytest.mark.parametrize("task", ["segment", "pose"])
def test_actor_rows_carry_masks_or_keypoints_and_read_back(task, tmp_path):
    """The row building of one actor batch (no Ray needed): task columns after the result columns, read back
    by Detections.from_record to the very detections of a plain loop, a failed image with empty ones."""
    import pyarrow.parquet as pq

    from lite.tools.distributed import RESULT_COLUMNS, TASK_COLUMNS, DetectorActor, ModelRef

    paths = _scenes(tmp_path, task, 3)
    want = _plain(task, paths)
    actor = DetectorActor(ModelRef(str(task_model_path(task))), {"threads": 1, "conf": CONF[task]})
    batch = pa.table({"path": [str(p) for p in paths] + [str(tmp_path / "gone.png")]})
    out = actor(batch)
    assert out.column_names == [*RESULT_COLUMNS, *TASK_COLUMNS[task]]
    pq.write_table(out, tmp_path / "rows.parquet")
    rows = pq.read_table(tmp_path / "rows.parquet").to_pylist()
    assert rows[-1]["error"].startswith("ImageNotFoundError")
    assert sum(len(r["boxes"]) for r in rows) >= 3
    for r in rows[:-1]:
        got = Detections.from_record(r, names=want[r["path"]].names)
        ref = want[r["path"]]
        np.testing.assert_array_equal(got.xyxy, ref.xyxy)
        if task == "segment":
            assert rows[-1]["masks"] == []
            np.testing.assert_array_equal(got.masks, ref.masks)
            assert got.masks.shape[1:] == (r["image_height"], r["image_width"])
        else:
            assert r["num_keypoints"] == 4
            np.testing.assert_allclose(got.keypoints, ref.keypoints, rtol=1e-6)


def test_a_classifier_is_refused_naming_the_classifier_api():
    from lite.tools.distributed import open_detector

    with pytest.raises(TaskNotSupportedError, match="Classifier") as e:
        open_detector(task_model_path("classify"), threads=1)
    assert e.value.task == "classify" and "distributed" in str(e.value)


def test_ray_segmentation_job_writes_rle_masks_to_parquet(tmp_path, ray_cluster):
    """One small job on the run's Ray cluster (tests/conftest.py, head only): the masks column in Parquet equals a
    plain loop's masks."""
    ray = pytest.importorskip("ray")
    import pyarrow.parquet as pq

    from lite.tools.distributed import detect_dataset, write_parquet

    ray_cluster.wait_nodes(1)
    paths = _scenes(tmp_path / "images", "segment", 4)
    want = _plain("segment", paths)
    ray.data.DataContext.get_current().enable_progress_bars = False
    job = detect_dataset(paths[0].parent, str(task_model_path("segment")), concurrency=1, threads=1,
                         batch_size=2, conf=CONF["segment"])  # fmt: skip
    summary = write_parquet(job, tmp_path / "pq")
    assert (summary.images, summary.failed) == (4, 0)
    rows = pq.read_table(tmp_path / "pq").to_pylist()
    assert sorted(r["path"] for r in rows) == sorted(want)
    assert sum(len(r["masks"]) for r in rows) >= 4
    for r in rows:
        ref = want[r["path"]]
        got = Detections.from_record(r, names=ref.names)
        np.testing.assert_array_equal(got.masks, ref.masks)
        assert all(m["size"] == [r["image_height"], r["image_width"]] for m in r["masks"])

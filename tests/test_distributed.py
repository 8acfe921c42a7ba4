"""lite.tools.distributed on a local Ray (2 CPUs): same detections as a plain loop, bad images, a killed actor, eval
--ray."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lite.core.errors import InputError
from lite.data.detections import Detections

MODEL = "models/yolov6lite/onnx/yolov6lite_s_320_decoded.onnx"
COCO = "coco/val2017_128"


def test_import_lite_does_not_import_ray() -> None:
    code = "import lite, lite.tools.distributed, lite.cli, sys; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plan_resources_leaves_a_cpu_to_reads() -> None:
    from lite.tools.distributed import plan_resources

    p = plan_resources(cpus=2, concurrency=2, threads=1)
    assert (p.actors, p.threads) == (2, 1)
    assert p.num_cpus * 2 <= 1  # one CPU stays free for read/decode tasks
    p = plan_resources(cpus=2)  # default: one actor per CPU, one thread each
    assert (p.actors, p.threads) == (2, 1)
    p = plan_resources(cpus=16, node_cpus=8, concurrency=4)
    assert p.threads == 2 and p.actors * p.threads <= 8
    p = plan_resources(cpus=8, gpus=2, num_gpus=0.5)
    assert p.actors == 4 and p.num_gpus == 0.5 and p.num_cpus <= 1
    with pytest.raises(InputError, match="GPUs"):
        plan_resources(cpus=8, gpus=0, num_gpus=1)
    with pytest.raises(InputError, match="min <= max"):
        plan_resources(cpus=8, concurrency=(3, 2))


@pytest.mark.parametrize(("node_cpus", "actors"), [((2, 1), None), ((2, 2), None), ((2, 2), 4), ((4, 4, 1), 7),
                                                   ((16,) * 4, None), ((3, 5), 6), ((2, 1), 2)])  # fmt: skip
def test_every_placement_leaves_some_node_a_whole_cpu(node_cpus: tuple[int, ...], actors: int | None) -> None:
    """Whatever node Ray puts each actor on, some node keeps >= 1 CPU for a read task (the 2+1 and 2x2 hangs)."""
    import itertools

    from lite.tools.distributed import plan_resources

    p = plan_resources(cpus=sum(node_cpus), node_cpus=max(node_cpus), nodes=len(node_cpus), concurrency=actors)
    n = p.max_actors
    if n > 8:  # too many placements to list: the pigeonhole bound is what the brute force checks below
        assert n * p.num_cpus <= sum(node_cpus) - len(node_cpus)
        return
    for place in itertools.product(range(len(node_cpus)), repeat=n):
        used = [0.0] * len(node_cpus)
        for k in place:
            used[k] += p.num_cpus
        if any(u > c + 1e-9 for u, c in zip(used, node_cpus, strict=True)):
            continue  # Ray would not place it so
        assert max(c - u for u, c in zip(used, node_cpus, strict=True)) >= 1 - 1e-9, (place, p)


def test_impossible_num_cpus_is_refused() -> None:
    from lite.tools.distributed import plan_resources

    with pytest.raises(InputError, match="would hang"):
        plan_resources(cpus=2, concurrency=2, num_cpus=1)  # the silent hang of issue 21
    with pytest.raises(InputError, match="would hang"):
        plan_resources(cpus=4, nodes=2, concurrency=4, num_cpus=0.75)
    with pytest.raises(InputError, match="no node has"):
        plan_resources(cpus=4, node_cpus=2, nodes=2, concurrency=1, num_cpus=3)
    with pytest.raises(InputError, match="need 2 GPUs"):
        plan_resources(cpus=8, gpus=1, concurrency=2, num_gpus=1)
    assert plan_resources(cpus=4, nodes=2, concurrency=2, num_cpus=1).num_cpus == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"concurrency": 0.5}, "InputTypeError", "concurrency"),
        ({"concurrency": "2"}, "InputTypeError", "concurrency"),
        ({"concurrency": (1, 2, 3)}, "InputTypeError", "concurrency"),
        ({"batch_size": "16"}, "InputTypeError", "batch_size"),
        ({"batch_size": 0}, "InputError", "batch_size"),
        ({"conf": 5}, "InputError", "conf"),
        ({"threads": "2"}, "InputTypeError", "threads"),
        ({"num_cpus": "1"}, "InputTypeError", "num_cpus"),
        ({"max_restarts": -2}, "InputError", "max_restarts"),
        ({"model": "missing/model.onnx"}, "ModelNotFoundError", "is neither a file on the driver"),
        ({"ray_remote_args": {"runtime_env": {"working_dir": "."}}}, "InputError", "expected a URI"),
    ],
)
def test_bad_arguments_fail_on_the_driver_before_ray_starts(kwargs: dict, error: str, match: str, shared) -> None:
    """Issue 20: typed lite errors at once, not TypeError/ValueError or ActorDiedError from the workers."""
    import lite.core.errors as errors

    code = (
        "import sys\n"
        "from lite.tools.distributed import detect_dataset\n"
        f"kw = {kwargs!r}\n"
        f"model = kw.pop('model', {str(shared / MODEL)!r})\n"
        "try:\n"
        "    detect_dataset(['x.jpg'], model, **kw)\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, '|', e, '|', 'ray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    name, message, ray_imported = (x.strip() for x in out.split("|"))
    assert name == error and match in message, out
    assert issubclass(getattr(errors, name), errors.LiteError)
    assert ray_imported == "False"  # refused before Ray was even imported


def test_from_record_round_trip() -> None:
    d = Detections([[1.5, 2.25, 30.125, 40.0], [5, 6, 7, 8]], [0.9, 0.3], [2, 0], ("a", "b", "c"))
    row = {"path": "x.jpg", "boxes": d.xyxy.tolist(), "scores": d.scores.tolist(), "class_ids": d.class_ids.tolist(),
           "names": d.labels, "error": None}  # fmt: skip
    assert Detections.from_record(row, names=d.names) == d
    back = Detections.from_record(row)  # names rebuilt from the row: class 1 never occurs
    assert back.names == ("a", "class_1", "c") and back.labels == d.labels
    with pytest.raises(InputError, match="failed image"):
        Detections.from_record({**row, "error": "ImageError: bad"})
    with pytest.raises(InputError, match=r"\[x1, y1, x2, y2\]"):
        Detections.from_record({**row, "boxes": [[1, 2, 3], [1, 2, 3, 4]]})


# ------------------------------------------------------------------------------------------ with Ray
ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_local(ray_cluster):
    """A one-node Ray of 2 CPUs: the run's Ray cluster (tests/conftest.py; ``ray start --head``, never a cluster
    that happens to run here, nor $RAY_ADDRESS), without test_cluster_ray.py's second node."""
    ray_cluster.wait_nodes(1)
    return ray


@pytest.fixture(scope="module")
def model(shared: Path) -> str:
    return str(shared / MODEL)


@pytest.fixture(scope="module")
def coco_images(shared: Path) -> list[Path]:
    return sorted((shared / COCO / "images").glob("*.jpg"))


@pytest.fixture(scope="module")
def plain_loop(model: str, coco_images: list[Path]) -> dict[str, Detections]:
    from lite.cv.yolov6 import YOLOv6

    with YOLOv6(model, threads=1) as det:
        return {str(p.resolve()): det.detect(p) for p in coco_images}


@pytest.fixture(scope="module")
def names(model: str) -> tuple[str, ...]:
    from lite.cv.yolov6 import YOLOv6

    with YOLOv6(model) as det:
        return det.names


def test_two_actors_match_a_plain_loop_in_order(ray_local, model, coco_images, plain_loop, names, tmp_path) -> None:
    from lite.tools.distributed import RESULT_COLUMNS, collect, detect_dataset

    folder = coco_images[0].parent
    out = detect_dataset(folder, model, concurrency=2, threads=1, batch_size=8, preserve_order=True).materialize()
    rows, summary = collect(out)
    assert summary.images == len(coco_images) == 128 and summary.failed == 0
    assert [r["path"] for r in rows] == list(plain_loop)  # every image once, in input order
    assert list(rows[0]) == list(RESULT_COLUMNS)
    for r in rows:
        assert Detections.from_record(r, names=names) == plain_loop[r["path"]], r["path"]
    assert sum(len(r["boxes"]) for r in rows) > 300  # real detections were compared
    h, w = rows[0]["image_height"], rows[0]["image_width"]
    assert (h, w) == (426, 640)  # 000000000139.jpg

    # Parquet and JSON write the rows as they are; Detections reads them back
    import pyarrow.parquet as pq

    out.write_parquet(str(tmp_path / "pq"))
    back = pq.read_table(tmp_path / "pq").to_pylist()
    assert len(back) == 128
    for r in back:
        assert Detections.from_record(r, names=names) == plain_loop[r["path"]]
    out.write_json(str(tmp_path / "js"))
    lines = [json.loads(x) for f in sorted((tmp_path / "js").iterdir()) for x in f.read_text().splitlines()]
    assert len(lines) == 128
    for r in lines:
        assert Detections.from_record(r, names=names) == plain_loop[r["path"]]


def _bad_folder(tmp: Path, coco_images: list[Path]) -> tuple[Path, list[Path]]:
    folder = tmp / "mixed"
    folder.mkdir()
    good = [Path(shutil.copy(p, folder / p.name)) for p in coco_images[:5]]
    raw = coco_images[5].read_bytes()
    (folder / "000000999998.jpg").write_bytes(raw[:2] + bytes(len(raw) // 4))  # a JPEG start, then zeros
    (folder / "000000999999.jpg").write_text("this is a text file, not an image\n")
    return folder, good


def test_bad_images_become_failed_rows(ray_local, model, coco_images, plain_loop, names, tmp_path) -> None:
    from lite.core.errors import ImageError
    from lite.data.io import load_image
    from lite.tools.distributed import collect, detect_dataset, write_parquet

    folder, good = _bad_folder(tmp_path, coco_images)
    for bad in ("000000999998.jpg", "000000999999.jpg"):
        with pytest.raises(ImageError):
            load_image(folder / bad)
    missing = str(folder / "gone.jpg")
    paths = sorted(str(p) for p in folder.iterdir()) + [missing]
    rows, summary = collect(detect_dataset(paths, model, concurrency=2, threads=1, batch_size=2))
    assert summary.images == 8 and summary.failed == 3
    by_path = {r["path"]: r for r in rows}
    assert set(by_path) == {str(Path(p).resolve()) for p in paths[:-1]} | {missing}  # no row dropped
    for bad in ("000000999998.jpg", "000000999999.jpg"):
        r = by_path[str((folder / bad).resolve())]
        assert r["error"].startswith("ImageError") and r["boxes"] == [] and r["image_width"] == 0
    assert by_path[missing]["error"].startswith("ImageNotFoundError")
    for p in good:
        r = by_path[str(p.resolve())]
        assert r["error"] is None
        assert Detections.from_record(r, names=names) == plain_loop[str(coco_images[good.index(p)].resolve())]
    assert "failed: " in summary.report() and "3 failed" in str(summary)

    s = write_parquet(detect_dataset(folder, model, concurrency=1, threads=1, batch_size=4), tmp_path / "pq")
    assert (s.images, s.failed) == (7, 2)
    with pytest.raises(InputError, match="not empty"):
        write_parquet(detect_dataset(folder, model, concurrency=1), tmp_path / "pq")


def test_killed_actor_still_yields_every_row_once(ray_local, model, coco_images, plain_loop, names, tmp_path) -> None:
    from lite.tools.distributed import collect, detect_dataset

    marker = tmp_path / "crashed"
    out = detect_dataset(
        [str(p) for p in coco_images],
        model,
        concurrency=2,
        threads=1,
        batch_size=8,
        _crash_after=(2, str(marker)),  # the first actor to start its 3rd batch exits its process
    )
    rows, summary = collect(out)
    assert marker.is_file(), "no actor was killed: the test proves nothing"
    assert summary.images == 128 and summary.failed == 0
    paths = [r["path"] for r in rows]
    assert len(set(paths)) == 128 and sorted(paths) == sorted(plain_loop)
    for r in rows:
        assert Detections.from_record(r, names=names) == plain_loop[r["path"]]


def test_input_kinds(ray_local, model, coco_images, plain_loop, names, shared) -> None:
    from lite.tools.distributed import collect, detect_dataset

    p = coco_images[:3]
    ds = ray.data.from_items(
        [{"bytes": q.read_bytes(), "path": str(q.resolve()), "image_id": i} for i, q in enumerate(p)]
    )
    rows, _ = collect(detect_dataset(ds, model, concurrency=1, threads=1, preserve_order=True))
    assert [r["image_id"] for r in rows] == [0, 1, 2]  # input columns pass through, image bytes do not
    assert "bytes" not in rows[0]
    for r in rows:
        assert Detections.from_record(r, names=names) == plain_loop[r["path"]]

    # ray.data.read_images decodes with PIL (RGB) on the read tasks: the actors take it as it is
    from PIL import Image

    from lite.cv.yolov6 import YOLOv6

    rows, _ = collect(detect_dataset(ray.data.read_images([str(q) for q in p], include_paths=True), model,
                                     concurrency=1, threads=1))  # fmt: skip
    assert len(rows) == 3
    with YOLOv6(model, threads=1) as det:
        for r in rows:
            rgb = np.asarray(Image.open(r["path"]).convert("RGB"))
            assert (r["image_height"], r["image_width"]) == rgb.shape[:2]
            assert Detections.from_record(r, names=names) == det.detect(np.ascontiguousarray(rgb[:, :, ::-1]))

    # another family, found by Detector.from_file on the worker as in the driver
    from lite.cv.detector import Detector

    v8 = shared / "models" / "foreign" / "yolov8" / "yolov8n_int8.onnx"
    if hasattr(Detector, "from_file"):
        rows, _ = collect(detect_dataset([str(q) for q in p], v8, concurrency=1, threads=1, preserve_order=True))
        with Detector.from_file(v8, threads=1) as det:
            assert type(det).__name__ == "YOLOv8"
            for r, q in zip(rows, p, strict=True):
                assert Detections.from_record(r, names=det.names) == det.detect(q)
    with pytest.raises(InputError, match="'bytes', 'image' or 'path'"):
        detect_dataset(ray.data.from_items([{"x": 1}]).materialize(), model)  # a schema known without running
    with pytest.raises(InputError, match="empty"):
        detect_dataset([], model)


def test_eval_ray_equals_single_process_ap(ray_local, model, shared, tmp_path, capsys) -> None:
    from lite.cli import main

    images, ann = shared / COCO / "images", shared / COCO / "instances.json"
    common = ["eval", "--model", model, "--images", str(images), "--ann", str(ann), "--no-progress"]
    assert main([*common, "--json", str(tmp_path / "one.json"), "--predictions", str(tmp_path / "p1.json")]) == 0
    assert main([*common, "--ray", "--workers", "2", "--json", str(tmp_path / "ray.json"),
                 "--predictions", str(tmp_path / "p2.json")]) == 0  # fmt: skip
    one, two = (json.loads((tmp_path / f).read_text()) for f in ("one.json", "ray.json"))
    assert one["stats"] == two["stats"] and one["AP"] > 0.2
    assert one["num_detections"] == two["num_detections"]
    p1, p2 = (json.loads((tmp_path / f).read_text()) for f in ("p1.json", "p2.json"))
    assert p1 == p2


def test_cli_detect_ray(ray_local, model, coco_images, tmp_path, capsys) -> None:
    from lite.cli import main

    folder, good = _bad_folder(tmp_path, coco_images)
    assert (
        main(["detect", *map(str, good), "--model", model, "--json", str(tmp_path / "one.json"), "--no-progress"]) == 0
    )
    code = main(["detect", str(folder), "--model", model, "--ray", "--workers", "2", "--no-progress",
                 "--json", str(tmp_path / "ray.json"), "--parquet", str(tmp_path / "pq")])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 1  # some images failed: the job finished and says so
    assert "7 images in" in text and "2 failed" in text and "000000999999.jpg" in text
    one, two = (json.loads((tmp_path / f).read_text()) for f in ("one.json", "ray.json"))
    assert one == two and len(one) > 5
    import pyarrow.parquet as pq

    t = pq.read_table(tmp_path / "pq")
    assert t.num_rows == 7 and t.column("error").null_count == 5
    assert main(["detect", str(folder), "--model", model, "--workers", "2"]) == 2  # --workers needs --ray
    assert "need --ray" in capsys.readouterr().err


def test_read_images_any_mode_and_truncated_flag(ray_local, model, coco_images, tmp_path) -> None:
    """read_images without mode="RGB" gives grayscale (H, W) and RGBA arrays: rows are detected, not errors; a
    truncated JPEG is decoded in part and its row says so."""
    import cv2

    from lite.cv.yolov6 import YOLOv6
    from lite.tools.distributed import collect, detect_dataset

    bgr = cv2.imread(str(coco_images[0]))
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    rgba = tmp_path / "rgba.png"
    cv2.imwrite(str(rgba), cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA))
    rows, summary = collect(detect_dataset(ray.data.read_images([str(gray), str(rgba)], include_paths=True), model,
                                           concurrency=1, threads=1))  # fmt: skip
    assert summary.failed == 0, summary.report()
    with YOLOv6(model, threads=1) as det:
        by_name = {Path(r["path"]).name: r for r in rows}
        g = cv2.cvtColor(cv2.imread(str(gray), cv2.IMREAD_GRAYSCALE), cv2.COLOR_GRAY2BGR)
        assert Detections.from_record(by_name["gray.png"], names=det.names) == det.detect(g)
        assert Detections.from_record(by_name["rgba.png"], names=det.names) == det.detect(bgr)

    raw = coco_images[1].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(raw[: len(raw) * 2 // 3])  # a partly downloaded JPEG
    rows, summary = collect(detect_dataset([str(cut), str(coco_images[1])], model, concurrency=1, threads=1))
    flags = {Path(r["path"]).name: (r["truncated"], r["error"]) for r in rows}
    assert flags == {"cut.jpg": (True, None), coco_images[1].name: (False, None)}

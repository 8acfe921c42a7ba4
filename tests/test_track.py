"""Tracking (lite.cv.track over the trackers package) and its evaluation (lite.tools.mot over TrackEval)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lite.cli import main
from lite.core.errors import InputError
from lite.data.detections import Detections

pytest.importorskip("trackers")
pytest.importorskip("trackeval")


@pytest.fixture(scope="module")
def crossing(tmp_path_factory):
    """The synthetic crossing set of docs/tracking.md: 6 shapes, 60 frames, seed 0."""
    from lite.demo.tracks import write_sequence

    return write_sequence(tmp_path_factory.mktemp("mot") / "crossing", n_frames=60, n_objects=6, seed=0)


@pytest.fixture(scope="module")
def det():
    from lite.cv import Detector
    from lite.hub import default_model

    d = Detector.from_file(default_model(), backend="ort", threads=1)
    yield d
    d.close()


def test_the_crossing_set_has_crossings_and_occlusions(crossing):
    gt = np.loadtxt(crossing / "gt" / "gt.txt", delimiter=",")
    assert len(np.unique(gt[:, 1])) == 6 and gt[:, 0].max() == 60
    assert gt[:, 8].min() < 0.9  # an object partly hidden by another
    first, last = gt[gt[:, 0] == 1], gt[gt[:, 0] == 60]
    left_first = first[np.argsort(first[:, 1]), 2] < 160
    left_last = last[np.argsort(last[:, 1]), 2] < 160
    assert (left_first != left_last).sum() >= 4  # most objects crossed to the other side


def test_lite_eval_mot_on_the_crossing_set(crossing, tmp_path, capsys):
    out = tmp_path / "metrics.json"
    assert main(["eval", "--mot", str(crossing), "--backend", "ort", "--json", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["MOTA"] >= 0.9 and m["IDF1"] >= 0.9 and 0.5 < m["HOTA"] <= 1.0
    assert m["gt_tracks"] == 6 and m["IDSW"] <= 5
    assert "MOTA" in capsys.readouterr().out


def test_metrics_see_perfect_swapped_and_ignored_results():
    from lite.tools.mot import evaluate

    rows = []
    for f in range(1, 11):
        rows.append([f, 1, 10 + f, 10, 20, 20, 1, 1, 1.0])
        rows.append([f, 2, 100 - f, 60, 20, 20, 1, 1, 1.0])
    gt = np.array(rows)
    res = np.c_[gt[:, :6], np.ones(len(gt)), -np.ones((len(gt), 3))]
    perfect = evaluate(gt, res)
    assert (perfect.MOTA, perfect.IDF1, perfect.HOTA) == (1.0, 1.0, 1.0)
    swapped = res.copy()
    swapped[(swapped[:, 0] > 5), 1] = 3 - swapped[(swapped[:, 0] > 5), 1]  # ids exchanged half way
    s = evaluate(gt, swapped)
    assert s.counts["IDSW"] == 2 and pytest.approx(0.5) == s.IDF1 and pytest.approx(0.9) == s.MOTA
    ignored = gt.copy()
    ignored[ignored[:, 1] == 2, 6] = 0  # object 2 "not considered": its results are neither FP nor TP
    r = evaluate(ignored, res)
    assert r.counts == {"TP": 10, "FN": 0, "FP": 0, "IDSW": 0, "gt_tracks": 1, "result_tracks": 1}


@pytest.mark.parametrize("backend", ["ort", "openvino"])
def test_track_gives_ids_on_every_engine(backend, crossing):
    from lite.cv import Detector
    from lite.hub import default_model
    from lite.tools.mot import track_sequence

    pytest.importorskip("openvino" if backend == "openvino" else "onnxruntime")
    with Detector.from_file(default_model(), backend=backend, threads=1) as d:
        r = track_sequence(d, crossing)
    assert r.MOTA >= 0.9 and r.IDF1 >= 0.9


def test_detector_track_yields_frames_and_ids(det, crossing):
    seen = {}
    for frame, tracks in det.track(str(crossing / "img1")):
        assert tracks.tracker_id is not None and len(tracks.tracker_id) == len(tracks)
        for tid, box in zip(tracks.tracker_id.tolist(), tracks.xyxy.tolist(), strict=True):
            seen.setdefault(tid, []).append((frame.index, box))
    assert 6 <= len(seen) <= 7
    assert sum(len(v) >= 50 for v in seen.values()) >= 5  # long tracks, not fragments


def test_tracker_ids_on_detections():
    d = Detections([[0, 0, 10, 10], [5, 5, 20, 20]], [0.9, 0.8], [0, 1], ("a", "b"), tracker_id=[7, 3])
    assert d[1].tracker_id.tolist() == [3] and d[d.scores > 0.85].tracker_id.tolist() == [7]
    assert Detections.from_dict(d.to_dict()) == d
    assert d != Detections(d.xyxy, d.scores, d.class_ids, d.names)
    assert d.to_supervision().tracker_id.tolist() == [7, 3]
    img = np.zeros((40, 40, 3), np.uint8)
    assert not np.array_equal(d.draw(img), Detections(d.xyxy, d.scores, d.class_ids, d.names).draw(img))
    with pytest.raises(InputError, match="tracker_id"):
        Detections(d.xyxy, d.scores, d.class_ids, d.names, tracker_id=[1])


def test_unknown_tracker_is_refused(monkeypatch):
    import trackers

    from lite.core.errors import BackendNotInstalledError
    from lite.cv.track import Tracker

    with pytest.raises(InputError, match="bytetrack, sort, ocsort"):
        Tracker("deepsort")
    # a trackers release without one of the classes lite names (e.g. an older one without OC-SORT)
    monkeypatch.delattr(trackers, "OCSORTTracker")
    with pytest.raises(
        BackendNotInstalledError, match=r"'ocsort': the installed trackers package \(2\.\d+.*lite-detect\[track\]"
    ):
        Tracker("ocsort")
    assert Tracker("bytetrack").name == "bytetrack"


def test_tracks_keep_masks_and_keypoints_of_their_detections():
    """A segmentation or pose model's detections keep their masks and keypoints through the tracker."""
    from lite.cv.track import Tracker

    t = Tracker("bytetrack")
    masks = np.zeros((3, 64, 64), bool)
    kpts = np.zeros((3, 2, 3), np.float32)
    for k in range(3):
        masks[k, 10 * k : 10 * k + 5] = True
        kpts[k, :, 0] = k
    for f in range(3):
        boxes = [[2 + f, 2, 12 + f, 12], [30 + f, 30, 40 + f, 40], [50, 5 + f, 60, 15 + f]]
        d = Detections(boxes, [0.9, 0.3, 0.8], [0, 1, 0], ("a", "b"), masks=masks, keypoints=kpts)
        out = t.update(d)
    # the 0.3 detection starts no track (ByteTrack's activation threshold 0.5): rows 0 and 2, in their order
    assert out.tracker_id is not None and len(out) == 2 and len(set(out.tracker_id.tolist())) == 2
    assert np.array_equal(out.masks, masks[[0, 2]]) and np.array_equal(out.keypoints, kpts[[0, 2]])
    assert np.array_equal(out.xyxy, d.xyxy[[0, 2]]) and out.names == ("a", "b")


def test_lite_track_writes_ids_video_and_trails(crossing, tmp_path, capsys):
    out = tmp_path / "tracks.jsonl"
    code = main(["track", str(crossing / "img1"), "--jsonl", str(out), "--save", str(tmp_path / "vid"),
                 "--backend", "ort", "--no-progress"])  # fmt: skip
    assert code == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 60 and [r["frame"] for r in lines] == list(range(60))
    ids = {t for r in lines[1:] for t in r["tracker_ids"]}
    assert 6 <= len(ids) <= 7
    assert len(list((tmp_path / "vid").glob("*.mp4"))) == 1


def test_trails_follow_each_track():
    from lite.cv.track import Trails

    trails = Trails(length=3)
    img = np.zeros((100, 100, 3), np.uint8)
    for k in range(5):
        d = Detections([[10 + 10 * k, 10, 20 + 10 * k, 20]], [0.9], [0], ("a",), tracker_id=[4])
        trails.update(d)
    assert list(trails) == [4]
    drawn = trails.draw(img, d)
    plain = d.draw(img)
    diff = np.any(drawn != plain, axis=2)
    ys, xs = np.nonzero(diff)
    assert diff.any() and xs.min() >= 30 and xs.max() <= 60  # the last 3 centres (x 35..55), not the older ones

"""benchmarks/bench_backends.py: the ``--backends`` option (parsing, the engine plan) and a smoke run.

No timing is asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lite import backends as registry
from lite.backends.base import Backend

REPO = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(REPO / "benchmarks"))
try:
    import bench_backends as bb
finally:
    sys.path.remove(str(REPO / "benchmarks"))


def test_backends_option_parses_registry_names_and_provider_variants():
    parse = bb.build_parser().parse_args
    assert parse([]).backends == ["ort", "ncnn", "mnn"]
    assert parse(["--backends", "trt,ort"]).backends == ["trt", "ort"]  # what scripts/gpu_check.sh passes
    assert parse(["--backends", "ORT-TRT, ort-cuda,ort-trt"]).backends == ["ort-trt", "ort-cuda"]
    choices = bb.backend_choices()
    assert set(registry.known()) <= set(choices) and {"ort-cuda", "ort-trt", "trt"} <= set(choices)


@pytest.mark.parametrize("bad", ["tflite", "ort,,nope", ","])
def test_backends_option_rejects_unknown_names(bad, capsys):
    with pytest.raises(SystemExit) as ei:
        bb.build_parser().parse_args(["--backends", bad])
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "--backends" in err and "ort-cuda" in err and "trt" in err  # the message lists the choices


def test_a_newly_registered_backend_appears_without_edits(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", registry._REGISTRY.copy())  # registrations vanish after the test

    @registry.register_backend("vinolike", suffixes=(".xml", ".onnx"), requires=("vinolike",), extra="vinolike")
    class _OnnxOpener(Backend):
        pass

    @registry.register_backend("blobbish", suffixes=(".blob",), requires=("blobbish",), extra="blobbish")
    class _Converted(Backend):
        pass

    args = bb.build_parser().parse_args(["--backends", "vinolike,blobbish"])
    assert args.backends == ["vinolike", "blobbish"]
    assert bb.plan_engines(args.backends) == [
        bb.EngineSpec("vinolike", "vinolike", None, "decoded onnx"),
        bb.EngineSpec("blobbish converted", "blobbish", None, "converted from raw onnx"),
    ]


def test_engine_plan():
    plan = bb.plan_engines(["ort", "trt", "ort-cuda", "ort-trt", "ncnn", "mnn"])
    assert [(e.label, e.backend, e.device, e.source) for e in plan] == [
        ("ort raw", "ort", None, "raw onnx"),
        ("ort decoded", "ort", None, "decoded onnx"),
        ("trt", "trt", "cuda", "decoded onnx"),
        ("ort-cuda", "ort", "cuda", "decoded onnx"),
        ("ort-trt", "ort", "trt", "decoded onnx"),
        ("ncnn official", "ncnn", None, "official ncnn"),
        ("mnn converted", "mnn", None, "converted from raw onnx"),
    ]


def test_bench_backends_smoke_run(shared):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    args = ["benchmarks/bench_backends.py", "--backends", "ort", "--models", "s", "--runs", "3", "--warmup", "1"]
    proc = subprocess.run(
        [sys.executable, *args, "--threads", "1", "--shared", str(shared)],
        capture_output=True, text=True, env=env, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lite-S  ort raw" in proc.stdout and "Lite-S  ort decoded" in proc.stdout
    assert "onnxruntime" in proc.stdout and "ncnn" not in proc.stdout.split("\n")[1]

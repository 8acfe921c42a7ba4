"""scripts/gpu_check.sh without a GPU: syntax, argument parsing, the dry-run plan, and its failures.

The script's real steps need an NVIDIA GPU; here it is checked that it parses (``bash -n``), that
its options choose the CUDA 12 or 13 wheels, that the dry run prints every step the GPU check
promises (with a ``--backends`` value the benchmark accepts), and that it exits non-zero when
the shared assets or the GPU are missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gpu_check.sh"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("LITE_")}
    full.update(env or {})
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=full, timeout=60)


def test_script_parses():
    proc = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_is_clean():
    proc = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_help_lists_the_options():
    proc = run("--help")
    assert proc.returncode == 0
    for opt in ("--cuda 12|13", "--skip-install", "--install-only", "--dry-run", "--budget SECONDS",
                "--install-budget SECONDS", "python3-venv", "pypi.nvidia.com"):  # fmt: skip
        assert opt in proc.stdout
    assert not proc.stdout.startswith("#")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cuda", "11"], "expected 12 or 13, got '11'"),
        (["--cuda"], "--cuda needs a value"),
        (["--frobnicate"], "unknown argument '--frobnicate'"),
        (["--budget", "ten"], "expected a whole number of seconds"),
        (["--install-budget", "-1"], "expected a whole number of seconds"),
        (["--skip-install", "--install-only"], "exclude each other"),
    ],
)
def test_bad_arguments_exit_2(args, message):
    proc = run("--dry-run", *args)
    assert proc.returncode == 2 and message in proc.stderr


def test_missing_shared_assets_fail(tmp_path):
    proc = run("--dry-run", env={"LITE_SHARED": str(tmp_path / "absent")})
    assert proc.returncode == 1 and "shared assets not found" in proc.stderr


@pytest.mark.parametrize(
    ("args", "env", "extra", "ort_spec"),
    [
        ([], {}, "trt-cu12", "onnxruntime-gpu[cuda,cudnn]>=1.22,<1.27"),
        (["--cuda", "13"], {}, "trt-cu13", "onnxruntime-gpu[cuda,cudnn]>=1.27"),
        (["--cuda=12"], {"LITE_CUDA_MAJOR": "13"}, "trt-cu12", "onnxruntime-gpu[cuda,cudnn]>=1.22,<1.27"),
        ([], {"LITE_CUDA_MAJOR": "13"}, "trt-cu13", "onnxruntime-gpu[cuda,cudnn]>=1.27"),
    ],
)
def test_dry_run_installs_the_chosen_cuda_major(args, env, extra, ort_spec, shared):
    proc = run("--dry-run", *args, env={"LITE_SHARED": str(shared), **env})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.replace("\\", "")  # the dry run prints commands shell-quoted
    assert f"pip install -q -e .[dev,{extra}]" in out
    assert "pip uninstall -q -y onnxruntime" in out
    assert f"pip install -q {ort_spec}" in out
    steps = [
        f"pip install -q -e .[dev,{extra}]",
        "pip uninstall",
        f"pip install -q {ort_spec}",
        "pip install -q --force-reinstall --no-deps onnxruntime-gpu==",  # a re-run restores the shared folder
        "python: environment",  # which asserts the GPU package alone is importable
    ]
    order = [out.index(s) for s in steps]
    assert order == sorted(order)  # the swap comes after lite[dev] (which brings the CPU onnxruntime)


def test_dry_run_prints_every_promised_step(shared):
    proc = run("--dry-run", "--skip-install", env={"LITE_SHARED": str(shared)})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.replace("\\", "")
    assert "pip install" not in out and "install skipped" in out
    assert "-m venv" not in out and "no ./.venv is created" in out  # the caller's environment
    expected = [
        "nvidia-smi",
        "LD_LIBRARY_PATH=<tensorrt_libs>",
        "python: environment",
        "-m gpu",
        "fail on any skip",
        "--to trt --fp16",
        "--to trt --int8 --calib-images",
        "python: detections",
        "python: threads",
        "bench_backends.py --backends",
        "dry run: 9 steps printed",
    ]
    positions = [out.find(e) for e in expected]
    assert -1 not in positions, [e for e, p in zip(expected, positions, strict=True) if p < 0]
    assert positions == sorted(positions)  # in this order
    assert "tests/test_trt.py" in out  # every file with gpu tests is run


def test_benchmark_backends_are_accepted_by_the_benchmark(shared):
    out = run("--dry-run", "--skip-install", env={"LITE_SHARED": str(shared)}).stdout.replace("\\", "")
    value = re.search(r"bench_backends\.py --backends (\S+)", out).group(1)
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_backends
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    assert bench_backends.build_parser().parse_args(["--backends", value]).backends == [
        "trt",
        "ort-trt",
        "ort-cuda",
        "ort",
    ]


def test_without_a_gpu_the_check_fails(shared, tmp_path):
    """Not a dry run: on this machine (no nvidia-smi) the check must exit non-zero, never pass."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sed", "dirname", "grep", "tr", "timeout", "python3", "cat"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    proc = run("--skip-install", env={"PATH": str(bin_dir), "LITE_SHARED": str(shared)})
    assert proc.returncode == 1
    assert "nvidia-smi not found" in proc.stderr and "PASS" not in proc.stdout


def _limits(out: str) -> list[tuple[str, int]]:
    return [(m.group(1), int(m.group(2))) for m in re.finditer(r"== \[\d+\] (.*) \(limit (\d+) s;", out)]


def test_the_budgets_fit_their_steps(shared):
    """Install and run have separate budgets; each default is at least the sum of its steps' limits."""
    out = run("--dry-run", env={"LITE_SHARED": str(shared)}).stdout
    limits = _limits(out)
    names = [n for n, _ in limits]
    split = next(i for i, n in enumerate(names) if n.startswith("libraries"))
    install, checks = limits[1:split], limits[split:]
    assert [n for n, _ in install] == ["virtual environment ./.venv", names[2]] and "install lite" in names[2]
    assert sum(v for _, v in install) <= 1800  # --install-budget default
    assert sum(v for _, v in checks) + limits[0][1] <= 3720  # --budget default
    assert "budget 3720 s" in out and "install done" in out


def test_missing_venv_module_is_named(shared, tmp_path):
    """On Debian/Ubuntu `python3 -m venv` needs python3-venv: the check says so instead of a venv traceback."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, repo / "scripts" / "gpu_check.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\necho 'name, compute_cap'\n")
    (bin_dir / "python-without-venv").write_text("#!/bin/sh\nexit 1\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = {"LITE_SHARED": str(shared), "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHON": "python-without-venv"}
    full = {k: v for k, v in os.environ.items() if not k.startswith("LITE_")} | env
    proc = subprocess.run(["bash", str(repo / "scripts" / "gpu_check.sh")], capture_output=True, text=True,
                          env=full, timeout=60)  # fmt: skip
    assert proc.returncode == 1 and "python3-venv" in proc.stderr
    assert not (repo / ".venv").exists()

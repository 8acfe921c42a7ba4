#!/usr/bin/env bash
# GPU check for lite's TensorRT backend and ONNX Runtime's GPU providers. Needs an NVIDIA GPU, its
# driver, pip access (the TensorRT wheels download their libraries from NVIDIA's index, pypi.nvidia.com,
# while installing) and the shared assets (../shared or $LITE_SHARED). Exits non-zero on any failure.
# Re-runnable: an existing ./.venv is updated in place (onnxruntime-gpu is reinstalled over the CPU package).
#
#   bash scripts/gpu_check.sh                 # CUDA 12 wheels (R525+ driver)
#   bash scripts/gpu_check.sh --cuda 13       # CUDA 13 wheels (R580+ driver)
#   bash scripts/gpu_check.sh --skip-install  # the caller's environment as it is (no ./.venv)
#   bash scripts/gpu_check.sh --dry-run       # print the steps, run nothing (no GPU needed)
#
# Steps (each with its own time limit; its duration is printed when it ends):
#   1. checks: the shared assets exist (a missing folder would skip every gpu test), nvidia-smi works;
#   2. install (skipped with --skip-install): ./.venv (python3 -m venv: needs python3-venv on Debian/Ubuntu),
#      lite[dev,trt-cuNN] (TensorRT 10 and cuda-python of that CUDA major), then onnxruntime-gpu in place of
#      the CPU onnxruntime (they share one folder: the GPU package is force-reinstalled without its
#      dependencies after the swap, so a re-run never leaves a half-removed onnxruntime);
#   3. puts tensorrt_libs and the nvidia-* CUDA/cuDNN libraries on LD_LIBRARY_PATH;
#   4. environment: which onnxruntime is importable (the GPU one, and only it), TensorRT, cuda-python and a
#      CUDA device; ONNX Runtime's CUDA and TensorRT providers *running* nodes (ORT's profile names the
#      provider of each node) and the TensorRT provider writing an engine into its cache folder;
#   5. every `gpu` test, failing if any of them skips;
#   6. converts Lite-S to FP16 and INT8 engines with `lite convert` (each verified against ONNX Runtime);
#   7. checks both engines' detections against ONNX Runtime on the shared images;
#   8. runs 8 threads on one engine and checks every result equals the single-thread one;
#   9. benchmark: bench_backends.py --backends trt,ort-trt,ort-cuda,ort --models s.
# At the end it prints what the run proved and what it did not.
#
# Time limits, sized on paper (NOT measured: written on a machine without a GPU; adjust after a first run):
#   install  1800 s: ~4-5 GB of wheels (TensorRT libs ~2.5 GB, cuDNN ~0.7 GB, cuBLAS ~0.6 GB, onnxruntime-gpu
#            ~0.3 GB, the dev extra's CPU torch/openvino/...) = ~250 s at 20 MB/s, plus unpacking, x ~3 margin;
#   environment 300 s (ORT's TensorRT provider builds one Lite-S engine: ~30-120 s);
#   gpu tests 1500 s (~13 engine builds of Lite-S at 30-90 s each, fewer with the shared timing cache, plus an
#            INT8 calibration on 32 images);
#   convert 900 s (two builds with verification, INT8 calibration on 128 images);
#   detections 180 s, threads 180 s, benchmark 600 s (ORT's TensorRT provider builds its engine again).
#   The run budget (--budget) defaults to the sum of the run-step limits (3720 s); each step gets the smaller
#   of its limit and what is left of the budget.
#
# Options (environment in brackets):
#   --cuda 12|13       CUDA major of the wheels [LITE_CUDA_MAJOR, default 12]
#   --skip-install     use the caller's environment as it is: no ./.venv, nothing installed [LITE_SKIP_INSTALL=1]
#   --install-only     install into ./.venv, then stop (run the check later with --skip-install from the venv)
#   --dry-run          print the steps without running them
#   --budget SECONDS   time limit for the run steps together, install excluded [LITE_GPU_CHECK_BUDGET, default 3720]
#   --install-budget SECONDS  time limit for the install [LITE_GPU_CHECK_INSTALL_BUDGET, default 1800]
#   -h, --help         this text
# Also: LITE_SHARED (the shared assets folder), PYTHON (interpreter that creates .venv, default python3),
#       PIP_EXTRA_INDEX_URL (honoured by pip).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "gpu_check: $*" >&2; exit 1; }
bad_usage() { echo "gpu_check: $*" >&2; echo "run 'bash scripts/gpu_check.sh --help' for the options" >&2; exit 2; }

CUDA_MAJOR=${LITE_CUDA_MAJOR:-12}
SKIP_INSTALL=${LITE_SKIP_INSTALL:-0}
BUDGET=${LITE_GPU_CHECK_BUDGET:-3720}
INSTALL_BUDGET=${LITE_GPU_CHECK_INSTALL_BUDGET:-1800}
INSTALL_ONLY=0
DRY_RUN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda) [ $# -ge 2 ] || bad_usage "--cuda needs a value (12 or 13)"; CUDA_MAJOR=$2; shift 2 ;;
    --cuda=*) CUDA_MAJOR=${1#--cuda=}; shift ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    --install-only) INSTALL_ONLY=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --budget) [ $# -ge 2 ] || bad_usage "--budget needs a number of seconds"; BUDGET=$2; shift 2 ;;
    --budget=*) BUDGET=${1#--budget=}; shift ;;
    --install-budget) [ $# -ge 2 ] || bad_usage "--install-budget needs a number of seconds"; INSTALL_BUDGET=$2; shift 2 ;;
    --install-budget=*) INSTALL_BUDGET=${1#--install-budget=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) bad_usage "unknown argument '$1'" ;;
  esac
done
case "$BUDGET" in ''|*[!0-9]*) bad_usage "--budget: expected a whole number of seconds, got '$BUDGET'" ;; esac
case "$INSTALL_BUDGET" in
  ''|*[!0-9]*) bad_usage "--install-budget: expected a whole number of seconds, got '$INSTALL_BUDGET'" ;;
esac
[ "$SKIP_INSTALL" = 1 ] && [ "$INSTALL_ONLY" = 1 ] && bad_usage "--skip-install and --install-only exclude each other"

# The wheels of one CUDA major: TensorRT 10 (11 removed the FP16/INT8 builder flags and the INT8
# calibrator), cuda-python, and an onnxruntime-gpu built for that CUDA (1.22-1.26: CUDA 12; 1.27+: 13).
case "$CUDA_MAJOR" in
  12) EXTRA=trt-cu12; ORT_GPU_SPEC="onnxruntime-gpu[cuda,cudnn]>=1.22,<1.27" ;;
  13) EXTRA=trt-cu13; ORT_GPU_SPEC="onnxruntime-gpu[cuda,cudnn]>=1.27" ;;
  *) bad_usage "--cuda: expected 12 or 13, got '$CUDA_MAJOR'" ;;
esac

SHARED=${LITE_SHARED:-../shared}
[ -d "$SHARED/models/yolov6lite/onnx" ] && [ -d "$SHARED/images" ] && [ -d "$SHARED/coco/val2017_128/images" ] \
  || die "shared assets not found at '$SHARED' (set LITE_SHARED): without them every gpu test would skip"
SHARED=$(cd "$SHARED" && pwd)
export LITE_SHARED=$SHARED
ONNX_S=$SHARED/models/yolov6lite/onnx/yolov6lite_s_320_decoded.onnx
CALIB=$SHARED/coco/val2017_128/images
WORK=${TMPDIR:-/tmp}/lite-gpu-check.$$
BENCH_BACKENDS=trt,ort-trt,ort-cuda,ort

START=$SECONDS
STEP=0
STEP_NAME=""
STEP_START=$SECONDS
STEP_LIMIT=0
PHASE_START=$SECONDS
PHASE_BUDGET=$INSTALL_BUDGET
end_step() {  # print how long the step that is ending took
  [ -n "$STEP_NAME" ] && [ "$DRY_RUN" != 1 ] && echo "   [$STEP] $STEP_NAME: $((SECONDS - STEP_START)) s (limit ${STEP_LIMIT} s)"
  STEP_NAME=""
}
step() {  # step LIMIT NAME...: start a step that may take at most LIMIT seconds (and what is left of the phase)
  end_step
  STEP=$((STEP + 1)); STEP_LIMIT=$1; shift; STEP_NAME="$*"; STEP_START=$SECONDS
  echo "== [$STEP] $STEP_NAME (limit ${STEP_LIMIT} s; $((SECONDS - START)) s elapsed)"
}
phase() {  # phase BUDGET: the steps from here share BUDGET seconds (install, then run)
  PHASE_START=$SECONDS; PHASE_BUDGET=$1
}
left() {  # seconds the current command may take: the step's limit, capped by what is left of the phase
  local step_rest=$((STEP_LIMIT - (SECONDS - STEP_START))) phase_rest=$((PHASE_BUDGET - (SECONDS - PHASE_START)))
  [ "$step_rest" -gt 0 ] || die "step '$STEP_NAME' over its ${STEP_LIMIT} s limit"
  [ "$phase_rest" -gt 0 ] || die "over the ${PHASE_BUDGET} s budget after $((SECONDS - PHASE_START)) s"
  echo $((step_rest < phase_rest ? step_rest : phase_rest))
}
run() {  # run a command (under the step's remaining time), or print it in a dry run
  if [ "$DRY_RUN" = 1 ]; then printf '+'; printf ' %q' "$@"; echo; return 0; fi
  local rest
  rest=$(left) || exit 1
  timeout "$rest" "$@" || die "step failed (exit $?; 124 = out of time): $*"
}
py() {  # run a python snippet from stdin with a name, or print its name in a dry run
  local name=$1; shift
  if [ "$DRY_RUN" = 1 ]; then cat >/dev/null; echo "+ python: $name $*"; return 0; fi
  local rest
  rest=$(left) || exit 1
  timeout "$rest" python - "$@" || die "step '$name' failed (exit $?; 124 = out of time)"
}

echo "gpu_check: CUDA $CUDA_MAJOR wheels (lite[$EXTRA], $ORT_GPU_SPEC), shared assets $SHARED, budget ${BUDGET} s" \
  "$([ "$DRY_RUN" = 1 ] && echo '(dry run: nothing is executed)')"

echo "gpu_check: nothing is shown to work on a GPU until the summary at the end of a passing run"

step 30 "GPU and driver"
if [ "$DRY_RUN" = 1 ]; then
  echo "+ nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv"
else
  command -v nvidia-smi >/dev/null 2>&1 || die "nvidia-smi not found: this check needs an NVIDIA GPU and driver"
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv || die "nvidia-smi failed"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ "$SKIP_INSTALL" = 1 ]; then
  step 5 "install skipped (--skip-install): the caller's environment as it is"
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ python (the caller's: no ./.venv is created or activated)"
  else
    command -v python >/dev/null 2>&1 || die "--skip-install: no 'python' on PATH (activate the environment to check)"
    echo "python: $(command -v python) ($(python -c 'import sys; print(sys.prefix)'))"
  fi
else
  phase "$INSTALL_BUDGET"
  step 120 "virtual environment ./.venv"
  PY=${PYTHON:-python3}
  if [ "$DRY_RUN" = 1 ]; then
    echo "+ $PY -m venv .venv (if absent; needs python3-venv on Debian/Ubuntu); . .venv/bin/activate"
  else
    if [ ! -x .venv/bin/python ]; then
      "$PY" -c 'import ensurepip, venv' 2>/dev/null \
        || die "'$PY -m venv' needs the venv and ensurepip modules: on Debian/Ubuntu install python3-venv" \
               "(sudo apt-get install python3-venv, or python3.X-venv for your Python), or use --skip-install"
      "$PY" -m venv .venv || die "could not create ./.venv with $PY"
    fi
    # shellcheck disable=SC1091
    . .venv/bin/activate
  fi
  step 1680 "install lite[dev,$EXTRA], then onnxruntime-gpu in place of onnxruntime"
  run python -m pip install -q -e ".[dev,$EXTRA]"
  # The dev extra brings the CPU onnxruntime; it and onnxruntime-gpu install the same `onnxruntime` folder, so
  # removing one deletes files of the other. Remove the CPU one, install the GPU one, then force-reinstall the
  # GPU one without dependencies: on a re-run (both were installed) this restores what the removal deleted.
  run python -m pip uninstall -q -y onnxruntime
  run python -m pip install -q "$ORT_GPU_SPEC"
  if [ "$DRY_RUN" = 1 ]; then
    ORT_GPU_VERSION="<installed version>"
  else
    ORT_GPU_VERSION=$(python -c 'import importlib.metadata as m; print(m.version("onnxruntime-gpu"))') \
      || die "onnxruntime-gpu is not installed after 'pip install $ORT_GPU_SPEC'"
  fi
  run python -m pip install -q --force-reinstall --no-deps "onnxruntime-gpu==$ORT_GPU_VERSION"
  end_step
  echo "gpu_check: install done in $((SECONDS - PHASE_START)) s (budget ${INSTALL_BUDGET} s)"
  if [ "$INSTALL_ONLY" = 1 ]; then
    echo "gpu_check: --install-only: stopping; run '. .venv/bin/activate && bash scripts/gpu_check.sh --skip-install'"
    exit 0
  fi
fi

phase "$BUDGET"
export LITE_CACHE="$WORK/lite-cache"  # fresh engine caches, whose parent folders do not exist yet
step 30 "libraries on LD_LIBRARY_PATH (tensorrt_libs, nvidia-* CUDA/cuDNN)"
if [ "$DRY_RUN" = 1 ]; then
  echo "+ export LD_LIBRARY_PATH=<tensorrt_libs>:<site-packages/nvidia/*/lib>:\$LD_LIBRARY_PATH"
else
  LIBS=$(python - <<'EOF'
import importlib.util
from pathlib import Path

dirs = []
spec = importlib.util.find_spec("tensorrt_libs")
if spec is None or not spec.submodule_search_locations:
    raise SystemExit("gpu_check: tensorrt_libs is not installed (the tensorrt-cuNN wheel brings it)")
dirs += list(spec.submodule_search_locations)
nvidia = importlib.util.find_spec("nvidia")
for root in (nvidia.submodule_search_locations if nvidia else []):
    dirs += sorted(str(p) for p in Path(root).glob("**/lib") if any(p.glob("*.so*")))
print(":".join(dict.fromkeys(dirs)))
EOF
  ) || die "could not locate the TensorRT libraries"
  export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
fi

step 300 "environment: onnxruntime-gpu alone, TensorRT, cuda-python, a CUDA device; ORT's GPU providers running"
run mkdir -p "$WORK"
py environment "$ONNX_S" "$WORK" <<'EOF'
import importlib.metadata as md
import json
import sys
from pathlib import Path

import numpy as np


def dist(name):
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


onnx_path, work = sys.argv[1], Path(sys.argv[2])
cpu, gpu = dist("onnxruntime"), dist("onnxruntime-gpu")
print(f"onnxruntime (CPU) {cpu or 'not installed'}; onnxruntime-gpu {gpu or 'not installed'}")
if gpu is None or cpu is not None:
    sys.exit("gpu_check: expected onnxruntime-gpu and not the CPU onnxruntime (they share one folder; "
             "reinstall with: pip uninstall -y onnxruntime && pip install --force-reinstall --no-deps onnxruntime-gpu)")
import onnxruntime as ort
import tensorrt as trt

from lite.backends._cuda import CudaRuntime
from lite.backends.ort import OrtBackend, providers_for_device

available = ort.get_available_providers()
print(f"onnxruntime {ort.__version__} from {Path(ort.__file__).parent}: {available}")
for want in ("TensorrtExecutionProvider", "CUDAExecutionProvider"):
    if want not in available:
        sys.exit(f"gpu_check: the importable onnxruntime has no {want}")
rt = CudaRuntime()
n = rt.device_count()
print(f"tensorrt {trt.__version__}; {n} CUDA device(s)")
for i in range(n):
    g = rt.device_info(i)
    print(f"  cuda:{i} {g.name} {g.sm}")
if n == 0:
    sys.exit("gpu_check: no CUDA device visible")

# lite's own path: OrtBackend raises when ONNX Runtime falls back from the provider asked for
for device, want in (("cuda", "CUDAExecutionProvider"), ("trt", "TensorrtExecutionProvider")):
    be = OrtBackend(onnx_path, device=device)
    print(f"  lite OrtBackend device {device!r}: {be.providers}")
    if be.providers[0] != want:
        sys.exit(f"gpu_check: ONNX Runtime runs {be.providers[0]} for device {device!r}, expected {want}")
    be.close()

# registration is not execution: run once with ORT's profiler on, and check which provider ran the nodes,
# and that the TensorRT provider wrote an engine into its (fresh, nested) cache folder
for device, want in (("cuda", "CUDAExecutionProvider"), ("trt", "TensorrtExecutionProvider")):
    cache = work / "ort-trt-cache" / device / "nested"  # parents absent: lite must create them
    so = ort.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = str(work / f"ort-profile-{device}")
    sess = ort.InferenceSession(onnx_path, so, providers=providers_for_device(device, cache_dir=str(cache)))
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    sess.run(None, {inp.name: np.zeros(shape, np.float32)})
    events = json.loads(Path(sess.end_profiling()).read_text())
    ran = {e["args"].get("provider") for e in events if e.get("cat") == "Node" and "provider" in e.get("args", {})}
    print(f"  ORT device {device!r}: nodes ran on {sorted(p for p in ran if p)}")
    if want not in ran:
        sys.exit(f"gpu_check: {want} is registered but ran no node of {Path(onnx_path).name}")
    if device == "trt":
        engines = sorted(cache.rglob("*.engine"))
        print(f"  TensorRT provider cache {cache}: {[p.name for p in engines]}")
        if not engines:
            sys.exit(f"gpu_check: the TensorRT provider wrote no engine into {cache}")
EOF

step 1500 "every gpu test, none may skip"
GPU_TESTS=$(grep -l "pytest.mark.gpu" tests/test_*.py | tr '\n' ' ')
if [ "$DRY_RUN" = 1 ]; then
  echo "+ python -m pytest -q -m gpu -rs --junitxml=<report> $GPU_TESTS; fail on any skip"
else
  # shellcheck disable=SC2086
  run python -m pytest -q -m gpu -rs -p no:cacheprovider --junitxml="$WORK/gpu.xml" $GPU_TESTS
  python - "$WORK/gpu.xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
tests = sum(int(s.get("tests", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(f"gpu tests: {tests} run, {skipped} skipped")
if tests == 0 or skipped:
    sys.exit("gpu_check: every gpu test must run on a GPU machine; see the skip reasons above")
EOF
fi

step 900 "convert Lite-S to FP16 and INT8 engines (lite convert verifies each against ONNX Runtime)"
run lite convert "$ONNX_S" --to trt --fp16 --out "$WORK/lite_s_fp16.engine" --timing-cache "$WORK/timing.cache"
run lite convert "$ONNX_S" --to trt --int8 --calib-images "$CALIB" --family yolov6 --out "$WORK/lite_s_int8.engine" \
  --timing-cache "$WORK/timing.cache"

step 180 "detections of both engines against ONNX Runtime on the shared images"
py detections "$ONNX_S" "$WORK" "$SHARED/images" <<'EOF'
import sys
from pathlib import Path

from lite.convert.trt import verify_engine

onnx, work, images = Path(sys.argv[1]), Path(sys.argv[2]), sorted(Path(sys.argv[3]).glob("*.jpg"))
for precision in ("fp16", "int8"):
    engine = work / f"lite_s_{precision}.engine"
    for report in verify_engine(onnx, engine, images, precision=precision, family="yolov6"):
        print(report.table())  # verify_engine raises VerificationError on a disagreement
    print(f"{precision}: {len(images)} images agree with ONNX Runtime")
EOF

step 180 "8 threads on one engine"
py threads "$WORK/lite_s_fp16.engine" "$SHARED/images" <<'EOF'
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from lite.cv import YOLOv6
from lite.data.io import load_image

det = YOLOv6(sys.argv[1], backend="trt", device="cuda")
images = [load_image(p) for p in sorted(Path(sys.argv[2]).glob("*.jpg"))]
want = [det.detect(im) for im in images]
jobs = list(range(len(images))) * 50
t0 = time.perf_counter()
with ThreadPoolExecutor(8) as pool:
    got = list(pool.map(lambda i: (i, det.detect(images[i])), jobs))
dt = time.perf_counter() - t0
for i, dets in got:
    if len(dets) != len(want[i]) or not np.allclose(dets.xyxy, want[i].xyxy, atol=1e-3):
        sys.exit(f"gpu_check: image {i}: a threaded result differs from the single-thread one")
print(f"8 threads, {len(jobs)} detect() calls on one engine: all equal to single-thread results "
      f"({len(jobs) / dt:.0f} images/s)")
det.close()
EOF

step 600 "benchmark (--backends $BENCH_BACKENDS)"
run python benchmarks/bench_backends.py --backends "$BENCH_BACKENDS" --models s --runs 100 --shared "$SHARED"

end_step
if [ "$DRY_RUN" = 1 ]; then
  echo "gpu_check: dry run: $STEP steps printed, nothing executed"
  exit 0
fi
rm -rf "$WORK"
cat <<EOF
gpu_check: PASS in $((SECONDS - START)) s (run budget ${BUDGET} s). What this run proved, on this GPU and these wheels:
  - the importable onnxruntime is onnxruntime-gpu alone; its CUDA and TensorRT providers ran nodes, and the
    TensorRT provider wrote an engine into a cache folder whose parents did not exist;
  - TensorRT $( python -c 'import tensorrt; print(tensorrt.__version__)' 2>/dev/null ) and cuda-python work
    with lite, and every gpu test ran and passed (none skipped);
  - Lite-S FP16 and INT8 engines built by 'lite convert' agree with ONNX Runtime within VERIFY_TOLERANCES on
    the shared images (the INT8 one on its detections); 8 threads on one engine equal one thread.
What it did not prove: other GPUs, drivers or TensorRT versions; the tolerances beyond these few images
(they are estimates); EfficientNMS engines are checked by their gpu test only ('lite convert' cannot verify
them: ONNX Runtime has no EfficientNMS_TRT); speed is what the benchmark table above shows, nothing more.
EOF

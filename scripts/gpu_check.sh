#!/usr/bin/env bash
# GPU check for lite's TensorRT backend and ONNX Runtime's GPU providers. Needs an NVIDIA GPU, its
# driver, pip access and the shared assets (../shared or $LITE_SHARED). Exits non-zero on any failure.
#
#   bash scripts/gpu_check.sh                 # CUDA 12 wheels (R525+ driver)
#   bash scripts/gpu_check.sh --cuda 13       # CUDA 13 wheels (R580+ driver)
#   bash scripts/gpu_check.sh --dry-run       # print the steps, run nothing (no GPU needed)
#
# Steps:
#   1. checks: the shared assets exist (a missing folder would skip every gpu test), nvidia-smi works;
#   2. installs lite[dev,trt-cuNN] into ./.venv (TensorRT 10 and cuda-python of that CUDA major), then
#      replaces the CPU onnxruntime with onnxruntime-gpu (built for that CUDA major);
#   3. puts tensorrt_libs and the nvidia-* CUDA/cuDNN libraries on LD_LIBRARY_PATH (ONNX Runtime's
#      TensorRT provider loads libnvinfer from there);
#   4. environment: TensorRT, cuda-python and a CUDA device usable, and ONNX Runtime *running* the CUDA
#      and TensorRT providers (asserted on a real session, not only listed);
#   5. every `gpu` test, failing if any of them skips;
#   6. converts Lite-S to FP16 and INT8 engines with `lite convert` (each verified against ONNX Runtime);
#   7. checks both engines' detections against ONNX Runtime on the shared images;
#   8. runs 8 threads on one engine and checks every result equals the single-thread one;
#   9. benchmark: bench_backends.py --backends trt,ort-trt,ort-cuda,ort --models s.
# The whole check must finish within the time budget (default 600 s, LITE_GPU_CHECK_BUDGET).
#
# Options (environment in brackets):
#   --cuda 12|13       CUDA major of the wheels [LITE_CUDA_MAJOR, default 12]
#   --skip-install     use the environment as it is [LITE_SKIP_INSTALL=1]
#   --dry-run          print the steps without running them
#   --budget SECONDS   time limit for the whole check [LITE_GPU_CHECK_BUDGET, default 600]
#   -h, --help         this text
# Also: LITE_SHARED (the shared assets folder), PYTHON (interpreter that creates .venv),
#       PIP_EXTRA_INDEX_URL (honoured by pip).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "gpu_check: $*" >&2; exit 1; }
bad_usage() { echo "gpu_check: $*" >&2; echo "run 'bash scripts/gpu_check.sh --help' for the options" >&2; exit 2; }

CUDA_MAJOR=${LITE_CUDA_MAJOR:-12}
SKIP_INSTALL=${LITE_SKIP_INSTALL:-0}
BUDGET=${LITE_GPU_CHECK_BUDGET:-600}
DRY_RUN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cuda) [ $# -ge 2 ] || bad_usage "--cuda needs a value (12 or 13)"; CUDA_MAJOR=$2; shift 2 ;;
    --cuda=*) CUDA_MAJOR=${1#--cuda=}; shift ;;
    --skip-install) SKIP_INSTALL=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --budget) [ $# -ge 2 ] || bad_usage "--budget needs a number of seconds"; BUDGET=$2; shift 2 ;;
    --budget=*) BUDGET=${1#--budget=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) bad_usage "unknown argument '$1'" ;;
  esac
done
case "$BUDGET" in ''|*[!0-9]*) bad_usage "--budget: expected a whole number of seconds, got '$BUDGET'" ;; esac

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
step() { STEP=$((STEP + 1)); echo "== [$STEP] $* ($((SECONDS - START)) s elapsed)"; }
left() {  # seconds left in the budget; fails the check when none are
  local rest=$((BUDGET - (SECONDS - START)))
  [ "$rest" -gt 0 ] || die "over the ${BUDGET} s budget after $((SECONDS - START)) s"
  echo "$rest"
}
run() {  # run a command (under the remaining budget), or print it in a dry run
  if [ "$DRY_RUN" = 1 ]; then printf '+'; printf ' %q' "$@"; echo; return 0; fi
  local rest
  rest=$(left) || exit 1
  timeout "$rest" "$@" || die "step failed (exit $?): $*"
}
py() {  # run a python snippet from stdin with a name, or print its name in a dry run
  local name=$1; shift
  if [ "$DRY_RUN" = 1 ]; then cat >/dev/null; echo "+ python: $name $*"; return 0; fi
  local rest
  rest=$(left) || exit 1
  timeout "$rest" python - "$@" || die "step '$name' failed (exit $?)"
}

echo "gpu_check: CUDA $CUDA_MAJOR wheels (lite[$EXTRA], $ORT_GPU_SPEC), shared assets $SHARED, budget ${BUDGET} s" \
  "$([ "$DRY_RUN" = 1 ] && echo '(dry run: nothing is executed)')"

step "GPU and driver"
if [ "$DRY_RUN" = 1 ]; then
  echo "+ nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv"
else
  command -v nvidia-smi >/dev/null 2>&1 || die "nvidia-smi not found: this check needs an NVIDIA GPU and driver"
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv || die "nvidia-smi failed"
fi

step "virtual environment ./.venv"
if [ "$DRY_RUN" = 1 ]; then
  echo "+ ${PYTHON:-python3} -m venv .venv (if absent); . .venv/bin/activate"
else
  [ -x .venv/bin/python ] || "${PYTHON:-python3}" -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ "$SKIP_INSTALL" != 1 ]; then
  step "install lite[dev,$EXTRA], then onnxruntime-gpu in place of onnxruntime"
  run python -m pip install -q -e ".[dev,$EXTRA]"
  run python -m pip uninstall -q -y onnxruntime  # it shadows onnxruntime-gpu's module: never both
  run python -m pip install -q "$ORT_GPU_SPEC"
else
  step "install skipped (--skip-install)"
fi

step "libraries on LD_LIBRARY_PATH (tensorrt_libs, nvidia-* CUDA/cuDNN)"
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

step "environment: TensorRT, cuda-python, a CUDA device; ONNX Runtime running its CUDA and TensorRT providers"
py environment "$ONNX_S" <<'EOF'
import sys

import onnxruntime as ort
import tensorrt as trt

from lite.backends._cuda import CudaRuntime
from lite.backends.ort import OrtBackend

rt = CudaRuntime()
n = rt.device_count()
print(f"tensorrt {trt.__version__}; onnxruntime {ort.__version__} ({ort.get_device()}); {n} CUDA device(s)")
for i in range(n):
    g = rt.device_info(i)
    print(f"  cuda:{i} {g.name} sm{g.compute_capability[0]}{g.compute_capability[1]}")
if n == 0:
    sys.exit("gpu_check: no CUDA device visible")
for device, want in (("cuda", "CUDAExecutionProvider"), ("trt", "TensorrtExecutionProvider")):
    be = OrtBackend(sys.argv[1], device=device)  # raises when ONNX Runtime falls back to the CPU
    print(f"  ort device {device!r}: running {be.providers}")
    if be.providers[0] != want:
        sys.exit(f"gpu_check: ONNX Runtime runs {be.providers[0]} for device {device!r}, expected {want}")
    be.close()
EOF

step "every gpu test, none may skip"
GPU_TESTS=$(grep -l "pytest.mark.gpu" tests/test_*.py | tr '\n' ' ')
if [ "$DRY_RUN" = 1 ]; then
  echo "+ python -m pytest -q -m gpu -rs --junitxml=<report> $GPU_TESTS; fail on any skip"
else
  mkdir -p "$WORK"
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

step "convert Lite-S to FP16 and INT8 engines (lite convert verifies each against ONNX Runtime)"
run mkdir -p "$WORK"
run lite convert "$ONNX_S" --to trt --fp16 --out "$WORK/lite_s_fp16.engine" --timing-cache "$WORK/timing.cache"
run lite convert "$ONNX_S" --to trt --int8 --calib-images "$CALIB" --out "$WORK/lite_s_int8.engine" \
  --timing-cache "$WORK/timing.cache"

step "detections of both engines against ONNX Runtime on the shared images"
py detections "$ONNX_S" "$WORK" "$SHARED/images" <<'EOF'
import sys
from pathlib import Path

from lite.convert.trt import verify_engine

onnx, work, images = Path(sys.argv[1]), Path(sys.argv[2]), sorted(Path(sys.argv[3]).glob("*.jpg"))
for precision in ("fp16", "int8"):
    for report in verify_engine(onnx, work / f"lite_s_{precision}.engine", images, precision=precision):
        print(report.table())  # verify_engine raises VerificationError on a disagreement
    print(f"{precision}: {len(images)} images agree with ONNX Runtime")
EOF

step "8 threads on one engine"
py threads "$WORK/lite_s_fp16.engine" "$SHARED/images" <<'EOF'
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from lite.cv import YOLOv6
from lite.io import load_image

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

step "benchmark (--backends $BENCH_BACKENDS)"
run python benchmarks/bench_backends.py --backends "$BENCH_BACKENDS" --models s --runs 100 --shared "$SHARED"

if [ "$DRY_RUN" = 1 ]; then
  echo "gpu_check: dry run: $STEP steps printed, nothing executed"
  exit 0
fi
rm -rf "$WORK"
echo "gpu_check: PASS in $((SECONDS - START)) s (budget ${BUDGET} s)"

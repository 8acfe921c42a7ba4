#!/usr/bin/env bash
# GPU check for lite's TensorRT backend: run on a machine with an NVIDIA GPU and driver.
#
#   bash scripts/gpu_check.sh
#
# What it does:
#   1. uses ./.venv (creates it if absent) and installs lite with its dev extra, plus
#      TensorRT 10 (the tensorrt-cuXX wheels) and a cuda-python of the same CUDA major;
#   2. checks that TensorRT, cuda-python and a CUDA device are usable (fails loudly if not,
#      instead of letting the tests skip);
#   3. runs the `gpu` tests of tests/test_trt.py (engine build FP32/FP16, parity with ONNX Runtime
#      on bus.jpg, engine cache hit and corrupt-cache rebuild, dynamic batch 1..8, EfficientNMS_TRT);
#   4. runs benchmarks/bench_backends.py --backends trt,ort when that script exists.
#
# Settings (environment):
#   LITE_CUDA_MAJOR  CUDA major of the wheels (default 12; needs a driver for that CUDA version)
#   LITE_TRT_SPEC    TensorRT version range (default ">=10.0,<11": TensorRT 11 removed the FP16/INT8
#                    builder flags and the INT8 calibrator that `build_engine(fp16=, int8=)` uses)
#   LITE_SKIP_INSTALL=1  use the environment as it is
#   PIP_EXTRA_INDEX_URL  honoured by pip: set it to NVIDIA's package index if your TensorRT
#                    version is not on PyPI (older tensorrt wheels download from there at install time)
#   LITE_SHARED      the shared models/images folder (default ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."

CUDA_MAJOR=${LITE_CUDA_MAJOR:-12}
TRT_SPEC=${LITE_TRT_SPEC:->=10.0,<11}

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu_check: nvidia-smi not found: this script needs an NVIDIA GPU and driver" >&2
  exit 1
fi
nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ "${LITE_SKIP_INSTALL:-0}" != "1" ]; then
  echo "== install: lite[dev], tensorrt-cu${CUDA_MAJOR}${TRT_SPEC}, cuda-python ${CUDA_MAJOR}.x"
  python -m pip install -q -e ".[dev]"
  python -m pip install -q "tensorrt-cu${CUDA_MAJOR}${TRT_SPEC}" "cuda-python>=${CUDA_MAJOR}.0,<$((CUDA_MAJOR + 1))"
fi

echo "== environment"
python - <<'EOF'
import sys

import tensorrt as trt

from lite.backends._cuda import CudaRuntime

rt = CudaRuntime()
n = rt.device_count()
print(f"tensorrt {trt.__version__}; {n} CUDA device(s)")
for i in range(n):
    g = rt.device_info(i)
    print(f"  cuda:{i} {g.name} sm{g.compute_capability[0]}{g.compute_capability[1]}")
if n == 0:
    sys.exit("gpu_check: no CUDA device visible")
EOF

echo "== gpu tests"
python -m pytest -q -m gpu -rs tests/test_trt.py

echo "== benchmark"
if [ -f benchmarks/bench_backends.py ]; then
  python benchmarks/bench_backends.py --backends trt,ort
else
  echo "benchmarks/bench_backends.py is not in this checkout yet: benchmark skipped"
fi

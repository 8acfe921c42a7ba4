"""ONNX → TensorRT engine conversion (``lite convert --to trt``), verified against ONNX Runtime.

`build_engine` builds with the backend-side builder
(`lite.backends._trt_build.build_engine_file`: explicit batch, derived profiles, FP16/INT8,
merged timing cache), writes a ``.lite.json`` sidecar with the ONNX metadata (an engine file
cannot hold it), then runs the engine and the ONNX model (ONNX Runtime) on the same letterboxed
images and compares outputs and detections (`verify_engine`; INT8: the detections only). A disagreement
beyond the precision's tolerances is a [`VerificationError`][lite.core.errors.VerificationError]. An ONNX with
TensorRT plugin ops (``EfficientNMS_TRT``) cannot run in ONNX Runtime: its engine is kept unverified, with
a warning that says so.

The converter uses the backends, never the reverse: everything TensorRT needs at run time lives in
[`lite.backends`][lite.backends]. The names re-exported below (profiles, calibration batches, cache keys)
are the backend-side ones.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lite.backends._trt_build import (
    DEFAULT_BATCH,
    DEFAULT_HW_PROFILE,
    IMAGE_SUFFIXES,
    BuildOptions,
    CalibrationBatches,
    CalibrationFeed,
    ProfileShape,
    build_engine_file,
    calibration_digest,
    compute_profiles,
    engine_cache_key,
    list_images,
    normalize_batch,
    normalize_hw,
    precision_name,
)
from lite.backends._trt_runtime import import_tensorrt, onnx_inputs, onnx_metadata
from lite.convert._registry import ConverterOption, register_converter
from lite.core.errors import InputError
from lite.data.metadata import sidecar_path

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_HW_PROFILE",
    "IMAGE_SUFFIXES",
    "VERIFY_TOLERANCES",
    "CalibrationBatches",
    "CalibrationFeed",
    "ProfileShape",
    "build_engine",
    "calibration_digest",
    "compute_profiles",
    "engine_cache_key",
    "import_tensorrt",
    "list_images",
    "normalize_batch",
    "normalize_hw",
    "onnx_inputs",
    "precision_name",
    "verify_engine",
    "verify_images",
]

log = logging.getLogger("lite.convert.trt")

#: Tolerances of `verify_engine` per precision (keyword arguments of
#: [`lite.tools.parity.compare`][lite.tools.parity.compare]):
#: relative L2 and largest absolute output difference (outputs hold box coordinates in input pixels),
#: IoU a detection needs with its ONNX Runtime counterpart, and score difference. ESTIMATES from the
#: precisions' known error sizes, not yet measured on a GPU (nothing here has run on one):
#: scripts/gpu_check.sh exercises them. FP32 assumes ``tf32=False`` (TF32 kernels round to 10-bit mantissas,
#: an FP16-sized error: with TF32 on, the FP16 tolerances are used).
VERIFY_TOLERANCES: dict[str, dict[str, float]] = {
    "fp32": {"rtol": 1e-2, "atol": 1.0, "iou": 0.95, "score_tol": 0.02},
    "fp16": {"rtol": 3e-2, "atol": 4.0, "iou": 0.9, "score_tol": 0.05},
    "int8": {"rtol": 1e30, "atol": 1e30, "iou": 0.7, "score_tol": 0.15,  # raw outputs not judged, see below
             "mask_iou": 0.7, "kpt_px": 8.0},
}  # fmt: skip

#: INT8 is judged on the detections only, never on the raw outputs: the largest error over every anchor
#: (background anchors included) says nothing about the boxes a user gets. Matched boxes need the IoU and
#: score difference of ``VERIFY_TOLERANCES["int8"]`` (and its mask IoU, keypoint distance); at most this fraction of
#: the ONNX Runtime detections (at least one) may be missing or extra (ESTIMATE, not yet measured). A classifier
#: is judged on its class probabilities (each within the score difference, see `lite.tools.parity.TopKDiff`).
INT8_UNMATCHED_FRACTION = 0.1

#: How many images `verify_engine` compares on at most.
VERIFY_MAX_IMAGES = 4


@register_converter(
    "trt", suffixes=(".engine",), accepts=(".engine", ".plan"), aliases=("tensorrt",), end2end=True,
    help="TensorRT engine (needs an NVIDIA GPU)",
    options=(
        ConverterOption("int8", "on", "INT8 with entropy calibration (needs --calib-images)"),
        ConverterOption("calib_images", "str", "folder of calibration images", metavar="DIR"),
        ConverterOption("batch", "ints", "batch profile of a dynamic-batch ONNX", metavar="MIN,OPT,MAX", count=3),
        ConverterOption("workspace_gb", "float", "workspace memory limit in GiB", flag="--workspace", metavar="GB"),
        ConverterOption("timing_cache", "str", "TensorRT timing cache file", metavar="FILE"),
        ConverterOption("tf32", "off", "no TF32 kernels for FP32 layers (FP32 parity; TensorRT allows TF32 by "
                        "default on Ampere+)"),
        ConverterOption("device", "str", "GPU to build on (default cuda:0)", metavar="cuda:N"),
        ConverterOption("family", "str", "model family whose preprocessing INT8 calibration uses (default: the "
                        "model's metadata)", metavar="NAME"),
    ),
)  # fmt: skip
def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    *,
    force: bool = False,
    fp16: bool = False,
    int8: bool = False,
    calib_images: str | Path | Sequence[str | Path] | None = None,
    calib_cache: str | Path | None = None,
    batch: int | str | Sequence[int] | None = None,
    input_hw: Any = None,
    workspace_gb: float | None = None,
    tf32: bool = True,
    timing_cache: str | Path | None = None,
    verify: bool | str | Path | Sequence[str | Path] = True,
    verbose: bool = False,
    device: str | None = None,
    family: str | None = None,
    preprocess: Any = None,
) -> Path:
    """Build a TensorRT engine from an ONNX file, write its sidecar, and check it against ONNX Runtime.

    Args:
        onnx_path: The ONNX model.
        engine_path: Output ``.engine``/``.plan`` file, or a folder (``<folder>/<stem>.engine``; default: the
            current directory). See [`lite.convert.output_path`][lite.convert.output_path].
        force: Replace an existing engine and sidecar (otherwise an existing one is an error before any work).
        fp16: Allow FP16 kernels (TensorRT 10's ``BuilderFlag.FP16``).
        int8: INT8 with entropy calibration; needs ``calib_images`` or an existing ``calib_cache``.
        calib_images: Folder (or list) of calibration images, letterboxed at the input shape.
        calib_cache: Calibration cache file, reused when present and written after calibration
            (default with INT8: ``<engine>.calib``).
        batch: ``(min, opt, max)`` batch for a dynamic-batch ONNX (int, "1,4,8" or 3 ints).
        input_hw: Size for a dynamic-H/W ONNX: int, ``(h, w)``, or three ``(h, w)`` (min, opt, max).
        workspace_gb: Workspace memory pool limit in GiB (default: TensorRT's, the device memory).
        tf32: Allow TF32 for FP32 layers (TensorRT's default on Ampere+); False for FP32 parity.
        timing_cache: Timing cache file, loaded when present and merged into after the build.
        verify: Compare the engine with ONNX Runtime after the build: True (on up to 4 of the
            calibration images, else on a synthetic scene), an image, a folder, a list of images,
            or False to skip.
        verbose: TensorRT's verbose log (to the ``lite.trt`` logger).
        device: GPU to build on, ``"cuda"`` or ``"cuda:N"`` (default ``cuda:0``); an engine only runs on GPUs
            of the architecture it was built on. Verification opens the engine with the default device
            (``cuda:0``, as `lite.tools.parity.compare` does): on a machine whose GPUs differ in architecture,
            pass ``verify=False`` and check the engine on its GPU.
        family: Model family (``"yolox"``...) whose preprocessing INT8 calibration feeds and verification uses
            (default: the ``family`` of the ONNX metadata / sidecar).
        preprocess: The model's `PreprocessConfig`, overriding the family's.

    Returns:
        The engine path. With ``verify``, the engine is built and checked under a temporary name
        in the same folder and moved into place only when it agrees with ONNX Runtime (a failed
        check leaves no engine behind). A ``<engine>.lite.json`` sidecar (``m.engine.lite.json``)
        carries the ONNX metadata (class names, strides).

    Raises:
        ModelNotFoundError: ``onnx_path`` does not exist.
        OutputExistsError: The engine or its sidecar exists and ``force`` is False.
        BackendNotInstalledError: TensorRT (10+) is not installed.
        ConversionError: Parse errors (each with node and message), an unsupported precision,
            a failed build.
        VerificationError: The engine disagrees with ONNX Runtime beyond `VERIFY_TOLERANCES`.
        InputError: Invalid ``batch``/``input_hw``/``workspace_gb``, or calibration data.
    """
    from lite.backends.trt import parse_device
    from lite.convert._common import prepare_outputs

    onnx_path = Path(onnx_path)
    device_index = None if device is None else parse_device(device)
    engine_path = prepare_outputs("trt", onnx_path, engine_path, force)[0]
    if int8 and calib_cache is None:
        calib_cache = engine_path.with_suffix(".calib")
    if int8 and calib_images is not None and preprocess is None:
        preprocess = calibration_preprocess(onnx_path, family)
    options = BuildOptions(
        fp16=fp16,
        int8=int8,
        calib_images=calib_images,
        calib_cache=calib_cache,
        batch=batch,
        input_hw=input_hw,
        workspace_gb=workspace_gb,
        tf32=tf32,
        timing_cache=timing_cache,
        verbose=verbose,
        preprocess=preprocess,
    )
    options.check()
    images = verify_images(verify, calib_images)  # argument errors before the (long) build
    if device_index is not None:
        _use_device(device_index)  # TensorRT builds on the calling thread's current device
    if images is None:
        build_engine_file(onnx_path, engine_path, options)
        _write_engine_sidecar(onnx_path, engine_path)
        return engine_path
    # built and checked under a temporary name in the same folder; moved into place only when it agrees
    staged = engine_path.with_name(f".{engine_path.stem}.unverified{engine_path.suffix or '.engine'}")
    try:
        build_engine_file(onnx_path, staged, options)
        _write_engine_sidecar(onnx_path, staged)
        precision = precision_name(fp16, int8) if (fp16 or int8 or not tf32) else "fp32+tf32"
        verify_engine(onnx_path, staged, images, precision=precision, family=family)
        _place(staged, engine_path)
    finally:
        for leftover in (staged, sidecar_path(staged)):
            leftover.unlink(missing_ok=True)
    return engine_path


def verify_images(
    verify: bool | str | Path | Sequence[str | Path], calib_images: str | Path | Sequence[str | Path] | None = None
) -> list[Any] | None:
    """The images `build_engine` verifies on: None (no verification), or up to 4 images.

    ``True`` takes the calibration images when there are any, else one synthetic scene
    (`lite.demo.scenes.make_scene`, seed 0); a path is an image or a folder of images;
    a sequence lists images.

    Raises:
        InputError: A path that is neither an image nor a folder of images.
    """
    if verify is False or verify is None:
        return None
    if verify is True:
        if calib_images is None:
            import numpy as np

            from lite.demo.scenes import make_scene

            return [make_scene(np.random.default_rng(0), (480, 640))[0]]
        verify = calib_images
    if isinstance(verify, str | Path):
        path = Path(verify)
        if path.is_dir():
            return list(list_images(path, VERIFY_MAX_IMAGES))
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            return [path]
        raise InputError(f"verify: expected an image, a folder of images, or True/False; got {verify!r}")
    return [Path(p) for p in verify][:VERIFY_MAX_IMAGES]


def verify_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    images: Sequence[Any],
    *,
    precision: str,
    family: str | None = None,
) -> list[Any]:
    """Run the engine (TensorRT) and the ONNX model (ONNX Runtime, CPU) on the same images and compare.

    Each image is letterboxed once and fed to both. FP32/FP16: outputs and detections must agree within
    `VERIFY_TOLERANCES` of the precision (``"fp32+tf32"`` uses the FP16 ones). INT8 (``"int8"``,
    ``"int8+fp16"``): only the detections are judged (`int8_detections_agree`).

    Nothing is compared, with a warning that says why, when ONNX Runtime is not installed or when the
    graph holds TensorRT plugin ops (``EfficientNMS_TRT``...) that ONNX Runtime cannot run: the engine is
    kept, unverified.

    Returns:
        One [`lite.tools.parity.CompareReport`][lite.tools.parity.CompareReport] per image (empty when not verified).

    Raises:
        VerificationError: A disagreement; the message is the comparison table.
    """
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        log.warning("onnxruntime is not installed: %s was built but NOT verified against ONNX Runtime", engine_path)
        return []
    plugins = trt_plugin_ops(onnx_path)
    if plugins:
        log.warning(
            "%s holds TensorRT plugin ops %s, which ONNX Runtime cannot run: %s was built but NOT verified "
            "against ONNX Runtime (verify the same model exported without the plugin, e.g. the decoded ONNX)",
            Path(onnx_path).name, plugins, engine_path,
        )  # fmt: skip
        return []
    from lite.core.errors import VerificationError
    from lite.tools.parity import compare

    int8 = "int8" in precision
    key = "int8" if int8 else "fp16" if precision == "fp32+tf32" else precision
    tolerances = VERIFY_TOLERANCES[key]
    reports = []
    for image in images:
        report = compare([onnx_path, engine_path], image, backends=["ort", "trt"], family=family, **tolerances)
        log.info("verification against ONNX Runtime:\n%s", report.table())
        if int8:
            if not int8_detections_agree(report):
                raise VerificationError(
                    "INT8 detections disagree with ONNX Runtime beyond tolerance:\n" + report.table()
                )
        else:
            report.raise_for_failure()
        reports.append(report)
    return reports


def int8_detections_agree(report: Any) -> bool:
    """Whether an INT8 engine's detections agree with ONNX Runtime's on one image.

    Matched boxes (same class) need IoU >= ``VERIFY_TOLERANCES["int8"]["iou"]`` (the matching threshold)
    and a score difference <= its ``score_tol``, their masks its ``mask_iou``, their keypoints its ``kpt_px``;
    missing plus extra detections (borderline scores near the threshold not counted) may be at most
    `INT8_UNMATCHED_FRACTION` of the reference's, and at least one. A classifier's class probabilities must each be
    within ``score_tol`` (``report.runs[i].top_k_diff.ok``).
    """
    tol = VERIFY_TOLERANCES["int8"]
    for run in report.runs[1:]:
        if run.top_k_diff is not None:
            if not run.top_k_diff.ok:
                return False
            continue
        dd = run.detection_diff
        if dd is None:
            return False
        if dd.matched and dd.min_mask_iou is not None and dd.min_mask_iou < tol["mask_iou"]:
            return False
        if dd.matched and dd.max_kpt_px is not None and dd.max_kpt_px > tol["kpt_px"]:
            return False
        allowed = max(1, int(INT8_UNMATCHED_FRACTION * dd.n_ref))
        if dd.missing + dd.extra > allowed or dd.max_score_diff > tol["score_tol"]:
            return False
        if dd.matched and dd.min_iou < tol["iou"]:
            return False
    return True


def trt_plugin_ops(onnx_path: str | Path) -> list[str]:
    """The TensorRT plugin ops of an ONNX graph (``EfficientNMS_TRT``, anything in the ``TRT`` domain), sorted."""
    from lite.backends._onnx import load_onnx

    model = load_onnx(onnx_path, weights=False)
    return sorted({n.op_type for n in model.graph.node if n.domain == "TRT" or n.op_type.endswith("_TRT")})


def calibration_preprocess(onnx_path: Path, family: str | None) -> Any:
    """The `PreprocessConfig` INT8 calibration feeds through: the family's (``family``, else the ``family`` the
    ONNX metadata or sidecar names, else the family the metadata identifies — ultralytics metadata names
    ``yolov8``, or ``yolov8-cls`` for a classifier; never one guessed from the outputs).

    This is the one place the converter maps a family to its preprocessing (``lite.cv.get_family``).

    Raises:
        InputError: No family given or recorded.
    """
    from lite.cv.family import named_family
    from lite.data.metadata import read_sidecar

    props = onnx_metadata(onnx_path)
    name = family or props.get("family") or (read_sidecar(onnx_path).extra or {}).get("family")
    if not name:
        named = named_family(props, None)
        name = named[0] if named is not None else None
    if not name:
        raise InputError(
            f"INT8 calibration of {onnx_path.name} needs the model's preprocessing, and neither family= "
            f"(lite convert --family) nor the model's metadata names its family; pass family='yolov6' (or yolox, "
            f"nanodet, ...) or preprocess=PreprocessConfig(...)"
        )
    from lite.cv import get_family

    return get_family(str(name)).preprocess_config


def _use_device(index: int) -> None:
    """Make ``cuda:index`` current for the build (TensorRT builds on the calling thread's current device)."""
    from lite.backends._cuda import CudaRuntime
    from lite.core.errors import DeviceError

    rt = CudaRuntime()
    count = rt.device_count()
    if index >= count:
        raise DeviceError(f"device cuda:{index}: only {count} CUDA device(s) visible")
    rt.set_device(index)


def _place(staged: Path, engine_path: Path) -> None:
    """Move a verified engine (and its sidecar, when there is one) to its final name."""
    import os

    side = sidecar_path(staged)
    if side.is_file():
        os.replace(side, sidecar_path(engine_path))
    else:
        sidecar_path(engine_path).unlink(missing_ok=True)  # not the sidecar of an older engine
    os.replace(staged, engine_path)


def _write_engine_sidecar(onnx_path: Path, engine_path: Path) -> None:
    """The engine's sidecar: what the NCNN / MNN / OpenVINO converters record (`onnx_meta`: the ONNX metadata and
    sidecar, the family, decoder and task the resolver finds), or without ``onnx`` installed the ONNX metadata."""
    import importlib.util

    from lite.data.metadata import ModelMeta, from_mapping, read_sidecar, write_sidecar

    if importlib.util.find_spec("onnx") is not None:
        from lite.convert._onnx_meta import onnx_meta

        meta = onnx_meta(onnx_path)
    else:
        meta = from_mapping(onnx_metadata(onnx_path)).merged(read_sidecar(onnx_path))
    if meta == ModelMeta():
        return
    write_sidecar(engine_path, meta)

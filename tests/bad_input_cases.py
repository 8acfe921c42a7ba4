"""The bad inputs lite checks: each a line of code, the error it raises and a part of the message.

`tests/test_bad_inputs.py` runs every case; `docs/gen_bad_inputs.py` renders the same list as
`docs/bad-inputs.md`, so the page shows exactly what the tests check.

Names available to ``code``: ``YOLOv6``, ``load_image``, ``load_images``, ``backends``, ``hub``, ``np``,
``MODEL`` (a real 320x320 YOLOv6Lite ONNX file), ``DET`` (a detector on it), ``IMG`` (a real photo as
an array), plus what the case's ``setup`` adds (files it writes into a temporary folder).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes:
        id: Test id.
        code: The Python expression a user might write (evaluated by the test).
        error: Name of the lite error class raised (in ``lite.core.errors``).
        also: The builtin exception a caller can catch instead.
        message: Text the message contains; ``…`` stands for any text (a path, a list).
        setup: Name of the fixture-like setup in test_bad_inputs.py (None: none).
        needs_model: Needs the shared models (skipped without them).
        what: What is wrong, for the docs.
    """

    id: str
    code: str
    error: str
    also: str
    message: str
    what: str
    setup: str | None = None
    needs_model: bool = True


CASES: tuple[Case, ...] = (
    # -- detector arguments: wrong types are TypeErrors, wrong values ValueErrors
    Case("threads-str", 'YOLOv6(MODEL, threads="2")', "InputTypeError", "TypeError",
         "threads: expected a positive int", "thread count as a string"),
    Case("threads-zero", "YOLOv6(MODEL, threads=0)", "InputError", "ValueError",
         "threads: expected a positive int", "zero threads"),
    Case("conf-none", "YOLOv6(MODEL, conf=None)", "InputTypeError", "TypeError",
         "conf: expected a score threshold in [0, 1], got None", "no score threshold"),
    Case("conf-range", "YOLOv6(MODEL, conf=1.5)", "InputError", "ValueError",
         "conf: expected a score threshold in [0, 1], got 1.5", "score threshold above 1"),
    Case("iou-nan", 'YOLOv6(MODEL, iou=float("nan"))', "InputError", "ValueError",
         "iou: expected an IoU threshold in [0, 1], got nan", "NaN IoU threshold"),
    Case("max-det-float", "YOLOv6(MODEL, max_det=2.5)", "InputTypeError", "TypeError",
         "max_det: expected a positive integer", "fractional max_det"),
    Case("nms-unknown", 'YOLOv6(MODEL, nms="soft")', "InputError", "ValueError",
         "nms: expected one of ('class_aware', 'agnostic', 'blend'), got 'soft'", "unknown NMS mode"),
    Case("topk-zero", "YOLOv6(MODEL, pre_nms_topk=0)", "InputError", "ValueError",
         "pre_nms_topk: expected a positive integer, got 0", "no candidates may reach NMS"),
    Case("multi-label-str", 'YOLOv6(MODEL, multi_label="yes")', "InputTypeError", "TypeError",
         "multi_label: expected True or False", "flag as a string"),
    Case("input-size-str", 'YOLOv6(MODEL, input_size="abc")', "InputTypeError", "TypeError",
         "input_size: expected a positive int N or (height, width)", "input size as a string"),
    Case("input-size-zero", "YOLOv6(MODEL, input_size=(0, 320))", "InputError", "ValueError",
         "input_size: expected a positive int N or (height, width)", "zero input height"),
    Case("strides-zero", "YOLOv6(MODEL, strides=[0])", "InputError", "ValueError",
         "strides: expected a sequence of positive ints", "a zero stride (was a ZeroDivisionError)"),
    Case("names-str", 'YOLOv6(MODEL, names="person")', "InputTypeError", "TypeError",
         "names: expected a sequence of class names", "one string instead of a list of names"),
    Case("model-none", "YOLOv6(None)", "InputTypeError", "TypeError",
         "model: expected a model file path", "no model", needs_model=False),
    Case("model-int", "YOLOv6(123)", "InputTypeError", "TypeError",
         "model: expected a model file path … got 123 of type int", "a number as the model", needs_model=False),
    # -- per-call options: the same checks
    Case("call-conf-str", 'DET.detect(IMG, conf="0.5")', "InputTypeError", "TypeError",
         "conf: expected a score threshold in [0, 1], got '0.5' of type str", "per-call threshold as a string"),
    Case("call-topk-negative", "DET.detect(IMG, pre_nms_topk=-5)", "InputError", "ValueError",
         "pre_nms_topk: expected a positive integer, got -5", "negative per-call pre_nms_topk"),
    Case("call-unknown-option", "DET.detect(IMG, confidence=0.5)", "InputError", "ValueError",
         "unknown detect() options ['confidence']", "misspelt option"),
    # -- images
    Case("image-dict", "load_image({})", "ImageTypeError", "TypeError",
         "expected an image … got an object of type dict", "a dict as an image", needs_model=False),
    Case("image-list", "load_image([1, 2, 3])", "ImageTypeError", "TypeError",
         "got a list of length 3", "a list as an image", needs_model=False),
    Case("image-none", "load_image(None)", "ImageTypeError", "TypeError",
         "got None", "no image", needs_model=False),
    Case("image-truncated-bytes", "load_image(TRUNCATED_JPEG_BYTES)", "ImageError", "ValueError",
         "a JPEG that ends before its end-of-image marker (truncated)", "the first half of a JPEG file's bytes",
         setup="truncated_bytes", needs_model=False),
    Case("image-uint16", "load_image(np.zeros((4, 4, 3), np.uint16))", "ImageError", "ValueError",
         "expected an image of dtype uint8", "16-bit pixels (range unknown)", needs_model=False),
    Case("batch-missing-path", 'DET.detect_batch("missing.jpg")', "ImageNotFoundError", "FileNotFoundError",
         "source not found: 'missing.jpg'", "a path (not its characters) that does not exist"),
    Case("batch-empty-glob", 'DET.detect_batch(str(TMP / "*.jpg"))', "ImageNotFoundError", "FileNotFoundError",
         "matches no image file", "a glob that matches nothing"),
    Case("batch-video", "DET.detect_batch(str(VIDEO))", "InputError", "ValueError",
         "expected images; got the video", "a video where images are expected", setup="video_file"),
    # -- model files and backends
    Case("model-dir-onnx", "YOLOv6(DIR_ONNX)", "ModelLoadError", "ValueError",
         "expected a model file … got the directory …x.onnx", "a directory named x.onnx",
         setup="dir_named_onnx", needs_model=False),
    Case("model-dir", "YOLOv6(DIR)", "ModelLoadError", "ValueError",
         "got the directory …models; it holds m.onnx", "a folder instead of the model in it",
         setup="plain_dir", needs_model=False),
    Case("backend-suffix", 'YOLOv6(MODEL, backend="ncnn")', "UnknownBackendError", "ValueError",
         "backend 'ncnn' opens .param files; got yolov6lite_s_320_decoded.onnx (.onnx), which 'openvino' or 'ort'",
         "an engine that does not read that file"),
    Case("suffix-unknown", 'backends.create(TMP / "m.tflite")', "UnknownBackendError", "ValueError",
         "expected a model file with one of the suffixes …got …m.tflite", "a format no backend reads",
         setup="tflite_file", needs_model=False),
    Case("ncnn-bin", 'backends.create(TMP / "m.bin")', "UnknownBackendError", "ValueError",
         "for NCNN pass the .param file, m.param", "the NCNN weights file instead of the .param",
         setup="bin_file", needs_model=False),
    # -- metadata sidecars
    Case("sidecar-strides", "YOLOv6(SIDECAR_MODEL)", "ModelLoadError", "ValueError",
         "metadata sidecar …m.onnx.lite.json: key 'strides': expected a list of positive integer strides",
         "sidecar with strides [0]", setup="sidecar_strides_zero"),
    Case("sidecar-input-size", "YOLOv6(SIDECAR_MODEL)", "ModelLoadError", "ValueError",
         "metadata sidecar …m.onnx.lite.json: key 'input_size': expected a positive input size",
         "sidecar with input_size [0, 0]", setup="sidecar_input_size_zero"),
    Case("sidecar-names-type", "YOLOv6(SIDECAR_MODEL)", "ModelLoadError", "ValueError",
         "metadata sidecar …m.onnx.lite.json: key 'names': expected a list of class names",
         "sidecar with names: 5", setup="sidecar_names_number"),
    Case("sidecar-bool", "YOLOv6(SIDECAR_MODEL)", "ModelLoadError", "ValueError",
         "key 'box_first': expected true or false, got 'sometimes'", "sidecar with box_first: sometimes",
         setup="sidecar_bad_bool"),
    Case("sidecar-json", "YOLOv6(SIDECAR_MODEL)", "ModelLoadError", "ValueError",
         "metadata sidecar …m.onnx.lite.json is not valid JSON", "sidecar that is not JSON",
         setup="sidecar_not_json"),
    # -- model outputs
    Case("nan-boxes", "YOLOv6(NAN_MODEL).detect(IMG)", "ModelOutputError", "RuntimeError",
         "nan_boxes.onnx on backend 'ort': the model produced non-finite boxes or scores",
         "a model whose boxes are NaN", setup="nan_model"),
    # -- environment
    Case("lite-home-file", 'hub.resolve("yolov6lite-s")', "HubError", "LookupError",
         "$LITE_HOME=… is a file; expected a folder", "$LITE_HOME pointing at a file",
         setup="lite_home_file", needs_model=False),
    Case("hub-unknown", 'hub.resolve("yolov7")', "HubError", "LookupError",
         "unknown model name 'yolov7'; known names: yolov6n", "a name the hub does not know", needs_model=False),
    # -- issue 20: sizes checked before decoding or parsing
    Case("image-huge-header", "load_image(HUGE_PNG)", "ImageError", "ValueError",
         "expected an image of at most 268,435,456 pixels (lite.data.io.MAX_IMAGE_PIXELS); … the header says "
         "200000x200000", "a PNG whose header claims 200000×200000 pixels (was a raw cv2.error)",
         setup="huge_png", needs_model=False),
    Case("image-huge-bytes", "load_image(HUGE_PNG.read_bytes())", "ImageError", "ValueError",
         "the 45 encoded bytes: the header says 200000x200000", "the same PNG as bytes",
         setup="huge_png", needs_model=False),
    Case("detect-huge-header", "DET.detect(HUGE_PNG)", "ImageError", "ValueError",
         "the header says 200000x200000", "the same PNG passed to detect", setup="huge_png"),
    Case("batch-huge-header", "DET.detect_batch([HUGE_PNG])", "ImageError", "ValueError",
         "expected an image of at most … huge.png': the header says", "the same PNG in a batch", setup="huge_png"),
    Case("hub-file-is-dir", 'hub.resolve("yolov6lite-s")', "HubError", "LookupError",
         "expected the model file yolov6-lite-s.param at …yolov6-lite-s.param, but that path is a directory",
         "a directory where the hub's .param goes (was 'could not download')", setup="hub_param_dir",
         needs_model=False),
    Case("sidecar-names-deep", "YOLOv6(SIDECAR_MODEL)", "ModelLoadError", "ValueError",
         "metadata sidecar …m.onnx.lite.json: expected metadata nested at most 16 levels deep",
         "sidecar with names nested 200000 deep (was a RecursionError)", setup="sidecar_names_deep"),
    Case("onnx-names-deep", "YOLOv6(DEEP_MODEL)", "ModelLoadError", "ValueError",
         "key 'names': expected metadata nested at most 16 levels deep … got brackets nested 200000 deep",
         "ONNX metadata names nested 200000 deep (was a RecursionError)", setup="onnx_names_deep"),
)  # fmt: skip

"""Detection and evaluation over large image sets on Ray Data (``pip install 'lite-detect[ray]'``).

One detector per Ray actor, built once per actor from a model path or hub name (a session is never
pickled); images stream through `ray.data.Dataset.map_batches` and come out as one row per image::

    import ray
    from lite.distributed import detect_dataset

    ds = ray.data.read_binary_files("s3://bucket/frames/", include_paths=True)   # or a folder / a list of paths
    out = detect_dataset(ds, "yolov6lite_s_320_decoded.onnx", backend="ort", concurrency=8, batch_size=16, conf=0.25)
    out.write_parquet("detections/")

Output rows (`RESULT_COLUMNS`, in this order, after the input columns that are not image data):
``path`` (str or null), ``image_height`` / ``image_width`` (int32, 0 when the image failed),
``boxes`` (list of ``[x1, y1, x2, y2]`` float32, original-image pixels), ``scores`` (float32),
``class_ids`` (int64), ``names`` (the class name of each detection) and ``error`` (null, or
``"ImageError: ..."`` for an image that could not be read or detected). Parquet and JSON write
these rows as they are; `lite.Detections.from_record` reads one back.

A bad image never stops the job: it becomes a row with ``error`` set, and no input row is dropped.
Actors restart after a crash (``max_restarts``) and Ray Data retries their unfinished batches, so every
row still comes out exactly once.

``import lite.distributed`` does not import Ray; the functions do, when called.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lite import backends
from lite.errors import BackendNotInstalledError, ImageNotFoundError, InputError, LiteError
from lite.io import IMAGE_SUFFIXES, image_paths

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    import ray.data

    from lite.cv.detector import Detector
    from lite.eval import EvalResult

__all__ = [
    "RESULT_COLUMNS",
    "RunSummary",
    "coco_eval",
    "collect",
    "detect_dataset",
    "model_info",
    "open_detector",
    "plan_resources",
    "write_parquet",
]

#: Columns every output row has, after the input's own columns (image data columns excepted).
RESULT_COLUMNS: tuple[str, ...] = (
    "path",
    "image_height",
    "image_width",
    "boxes",
    "scores",
    "class_ids",
    "names",
    "error",
)
#: Input columns that hold the image itself; they are not copied to the output.
IMAGE_COLUMNS: tuple[str, ...] = ("bytes", "image")
_INPUT_COLUMNS = ("bytes", "image", "path")


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is what we need
    except ImportError as e:
        raise BackendNotInstalledError(
            f"distributed detection needs Ray Data, which is not installed ({e}); "
            "install it with: pip install 'lite-detect[ray]'"
        ) from e
    return ray


# ----------------------------------------------------------------------------------------------
# the detector an actor holds
# ----------------------------------------------------------------------------------------------
def open_detector(model: str | Path, *, family: str | None = None, **kwargs: Any) -> Detector:
    """Open a detector from a model file or hub name: the one place a worker builds its model.

    Uses ``Detector.from_file`` (family detection) when this lite has it, else `lite.cv.YOLOv6`.

    Args:
        model: Model file or hub name.
        family: Detector family (``"yolov6"``, ``"yolov8"``...); None: read from the model.
        **kwargs: Detector keyword arguments (``backend``, ``device``, ``threads``, ``conf``...).

    Raises:
        InputError: A family other than YOLOv6 asked of a lite without ``Detector.from_file``.
    """
    from lite.cv.detector import Detector

    if hasattr(Detector, "from_file"):
        return Detector.from_file(model, family=family, **kwargs)
    if family not in (None, "yolov6"):
        raise InputError(f"family: this lite has only the 'yolov6' family; got {family!r}")
    from lite.cv.yolov6 import YOLOv6

    return YOLOv6(model, **kwargs)


def _result_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("path", pa.string()),
            ("image_height", pa.int32()),
            ("image_width", pa.int32()),
            ("boxes", pa.list_(pa.list_(pa.float32()))),
            ("scores", pa.list_(pa.float32())),
            ("class_ids", pa.list_(pa.int64())),
            ("names", pa.list_(pa.string())),
            ("error", pa.string()),
        ]
    )


def _image_sources(batch: pa.Table) -> list[Any]:
    """What to decode for each row: encoded bytes, a decoded RGB array (``read_images``) or a path."""
    n = batch.num_rows
    sources: list[Any] = [None] * n
    if "path" in batch.column_names:
        sources = batch.column("path").to_pylist()
    if "image" in batch.column_names:
        col = batch.column("image").combine_chunks()
        arrays = col.to_numpy(zero_copy_only=False) if hasattr(col, "to_numpy") else col.to_pylist()
        for i in range(n):  # read_images gives RGB: lite takes BGR
            sources[i] = ("rgb", np.asarray(arrays[i]))
    if "bytes" in batch.column_names:
        for i, b in enumerate(batch.column("bytes").to_pylist()):
            if b is not None:
                sources[i] = b
    return sources


def _load(source: Any) -> np.ndarray:
    from lite.io import load_image

    if isinstance(source, tuple) and source[0] == "rgb":
        img = load_image(source[1])
        return np.ascontiguousarray(img[:, :, ::-1])
    if source is None:
        raise InputError("the row has no image: expected a 'bytes', 'image' or 'path' value, got nulls")
    return load_image(source)


class DetectorActor:
    """The callable class `detect_dataset` gives to ``map_batches``: one detector per actor.

    Args:
        model: Model file or hub name (opened on the worker, never pickled).
        detector_kwargs: Keyword arguments of `open_detector`.
        infer_batch: Run each batch through ``detect_batch`` (one engine call for models with a
            dynamic batch) instead of one ``detect`` per image.
        crash_after: Test hook, ``(n, marker_file)``: the first actor to reach its batch ``n + 1``
            while ``marker_file`` does not exist creates it and ends its process (``os._exit``), as a
            killed worker would; the marker makes it happen once per job.
    """

    def __init__(
        self,
        model: str,
        detector_kwargs: Mapping[str, Any],
        infer_batch: bool = False,
        crash_after: tuple[int, str] | None = None,
    ) -> None:
        self.detector = open_detector(model, **detector_kwargs)
        self.infer_batch = infer_batch
        self.crash_after = crash_after
        self.batches = 0

    def _maybe_crash(self) -> None:
        if self.crash_after is None:
            return
        n, marker = self.crash_after
        if self.batches > n:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.write(fd, f"{os.getpid()}\n".encode())
            os.close(fd)
            os._exit(1)

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Detect every image of a batch; returns the batch's other columns plus `RESULT_COLUMNS`."""
        import pyarrow as pa

        self.batches += 1
        self._maybe_crash()
        n = batch.num_rows
        paths = batch.column("path").to_pylist() if "path" in batch.column_names else [None] * n
        images: list[np.ndarray | None] = [None] * n
        errors: list[str | None] = [None] * n
        for i, src in enumerate(_image_sources(batch)):
            try:
                images[i] = _load(src)
            except Exception as e:  # any undecodable input is that row's error, never the job's
                errors[i] = f"{type(e).__name__}: {e}"
        dets = self._detect(images, errors)
        cols = {
            "path": [None if p is None else str(p) for p in paths],
            "image_height": [0 if im is None else im.shape[0] for im in images],
            "image_width": [0 if im is None else im.shape[1] for im in images],
            "boxes": [d.xyxy.tolist() if d is not None else [] for d in dets],
            "scores": [d.scores.tolist() if d is not None else [] for d in dets],
            "class_ids": [d.class_ids.tolist() if d is not None else [] for d in dets],
            "names": [d.labels if d is not None else [] for d in dets],
            "error": errors,
        }
        keep = [c for c in batch.column_names if c not in IMAGE_COLUMNS and c not in RESULT_COLUMNS]
        out = pa.Table.from_pydict(cols, schema=_result_schema())
        for k, c in enumerate(keep):
            out = out.add_column(k, batch.schema.field(c), batch.column(c))
        return out

    def _detect(self, images: list[np.ndarray | None], errors: list[str | None]) -> list[Any]:
        dets: list[Any] = [None] * len(images)
        ok = [i for i, im in enumerate(images) if im is not None]
        if self.infer_batch and ok:
            try:
                for i, d in zip(ok, self.detector.detect_batch([images[i] for i in ok]), strict=True):
                    dets[i] = d
                return dets
            except LiteError:
                pass  # find the image that fails, one by one
        for i in ok:
            try:
                dets[i] = self.detector.detect(images[i])
            except LiteError as e:
                errors[i] = f"{type(e).__name__}: {e}"
                images[i] = None
        return dets


# ----------------------------------------------------------------------------------------------
# sizing
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResourcePlan:
    """How many actors, and what each one asks of Ray.

    Attributes:
        actors: Fixed pool size, or ``(min, max)`` for an autoscaling pool.
        threads: Engine threads per actor.
        num_cpus: CPUs each actor reserves (fractional so that reads keep a CPU).
        num_gpus: GPUs each actor reserves (None: none).
    """

    actors: int | tuple[int, int]
    threads: int
    num_cpus: float
    num_gpus: float | None

    @property
    def max_actors(self) -> int:
        """The largest pool size."""
        return self.actors if isinstance(self.actors, int) else self.actors[1]


def _wants_gpu(backend: str | None, device: str | None, model: str) -> bool:
    dev = (device or "").lower()
    engine_file = Path(model).suffix in backends.get("trt").default_for  # .engine, .plan: from the registry
    return backend == "trt" or dev.startswith(("cuda", "trt", "gpu")) or engine_file


def plan_resources(
    *,
    cpus: float,
    gpus: float = 0.0,
    node_cpus: float | None = None,
    concurrency: int | tuple[int, int] | None = None,
    threads: int | None = None,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
) -> ResourcePlan:
    """Actor count, threads and Ray resources per actor (pure arithmetic; see `detect_dataset`).

    Args:
        cpus: CPUs of the cluster.
        gpus: GPUs of the cluster.
        node_cpus: CPUs of the largest node (default: ``cpus``).
        concurrency: Actors: an int (fixed pool) or ``(min, max)``. Default: one per GPU share
            when ``num_gpus`` is given, else ``cpus // threads`` (one per CPU with one thread).
        threads: Engine threads per actor. Default: ``node_cpus // actors`` (at least 1), so that
            actors x threads <= cores.
        num_cpus: CPUs each actor reserves. Default: ``threads``, shrunk so that the pool leaves one
            CPU of the cluster to reading and decoding tasks (an actor pool that takes every CPU
            starves the read tasks and the job hangs).
        num_gpus: GPUs each actor reserves (TensorRT / CUDA); None: no GPU.

    Raises:
        InputError: A non-positive concurrency, threads or resources, or GPU actors on a cluster without GPUs.
    """
    node_cpus = node_cpus or cpus
    if num_gpus is not None and (num_gpus <= 0 or gpus <= 0):
        raise InputError(
            f"num_gpus: expected GPUs per actor > 0 on a cluster with GPUs; got num_gpus={num_gpus} and "
            f"{gpus:g} GPUs in the cluster (start Ray on a GPU node, or run on CPU)"
        )
    if threads is not None and threads < 1:
        raise InputError(f"threads: expected an int >= 1, got {threads}")
    if concurrency is None:
        per_actor = num_gpus if num_gpus is not None else (threads or 1)
        concurrency = max(1, int((gpus if num_gpus is not None else cpus) // per_actor))
    if isinstance(concurrency, int):
        if concurrency < 1:
            raise InputError(f"concurrency: expected actors >= 1, got {concurrency}")
        biggest: int = concurrency
    else:
        lo, hi = (int(x) for x in concurrency)
        if not 1 <= lo <= hi:
            raise InputError(f"concurrency: expected (min, max) with 1 <= min <= max, got {concurrency}")
        concurrency, biggest = (lo, hi), hi
    if threads is None:
        threads = max(1, int(node_cpus // biggest))
    if num_cpus is None:
        spare = cpus - 1 if cpus > 1 else cpus / 2
        num_cpus = min(float(threads), math.floor(100 * spare / biggest) / 100)
        if num_gpus is not None:
            num_cpus = min(num_cpus, 1.0)
        num_cpus = max(num_cpus, 0.01)
    elif num_cpus < 0:
        raise InputError(f"num_cpus: expected >= 0, got {num_cpus}")
    return ResourcePlan(concurrency, int(threads), float(num_cpus), num_gpus)


def _cluster(ray: Any) -> tuple[float, float, float]:
    if not ray.is_initialized():
        ray.init()
    res = ray.cluster_resources()
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    node_cpus = max((r.get("CPU", 0.0) for r in nodes), default=0.0)
    return float(res.get("CPU", 0.0)), float(res.get("GPU", 0.0)), float(node_cpus or res.get("CPU", 0.0))


# ----------------------------------------------------------------------------------------------
# input
# ----------------------------------------------------------------------------------------------
def _local(path: str | os.PathLike) -> str:
    p = Path(path)
    return str(p.resolve()) if p.exists() else str(path)


def _blocks(n: int, batch_size: int, actors: int) -> int:
    """Blocks of an in-memory input: about one batch each (work spreads, a retry redoes little), and at
    least one per actor when there are enough images."""
    return max(1, min(n, actors), min(math.ceil(n / batch_size), max(1000, 4 * actors)))


def as_dataset(data: Any, *, batch_size: int = 16, actors: int = 1) -> ray.data.Dataset:
    """The image rows of ``data``: a Ray Dataset as is, else one row per image.

    Args:
        data: A `ray.data.Dataset` with a ``bytes``, ``image`` (``read_images``) or ``path``
            column; a local folder (its image files, sorted; read by the workers); a URI such as
            ``s3://bucket/frames/`` (``ray.data.read_binary_files``); or a sequence of paths or of
            encoded image bytes.
        batch_size: Images per batch (sets the block size of in-memory inputs).
        actors: Actors that will share the work.

    Raises:
        InputError: A dataset with no image column, an empty sequence, or an unsupported type.
        ImageNotFoundError: A local folder or file that does not exist, or a folder with no image.
    """
    ray = _ray()
    if isinstance(data, ray.data.Dataset):
        cols = data.columns() or []
        if not set(cols) & set(_INPUT_COLUMNS):
            raise InputError(
                f"expected a dataset with a 'bytes', 'image' or 'path' column (e.g. "
                f"ray.data.read_binary_files(..., include_paths=True)); got columns {cols}"
            )
        return data
    if isinstance(data, str | os.PathLike):
        text = os.fspath(data)
        p = Path(text)
        if p.is_dir():
            paths = [str(q.resolve()) for q in image_paths(p)]
            return ray.data.from_items(
                [{"path": q} for q in paths], override_num_blocks=_blocks(len(paths), batch_size, actors)
            )
        if p.is_file():
            return ray.data.from_items([{"path": str(p.resolve())}])
        if "://" in text:
            exts = [s.lstrip(".") for s in IMAGE_SUFFIXES]
            return ray.data.read_binary_files(text, include_paths=True, file_extensions=exts)
        raise ImageNotFoundError(f"expected an image folder, an image file or a URI; {text!r} does not exist")
    if isinstance(data, Iterable) and not isinstance(data, bytes | bytearray | Mapping):
        items = list(data)
        if not items:
            raise InputError("expected at least one image; got an empty sequence")
        if all(isinstance(x, bytes | bytearray) for x in items):
            rows = [{"bytes": bytes(x)} for x in items]
        elif all(isinstance(x, str | os.PathLike) for x in items):
            rows = [{"path": _local(x)} for x in items]
        else:
            kinds = sorted({type(x).__name__ for x in items})
            raise InputError(f"expected a sequence of paths or of encoded image bytes; got items of types {kinds}")
        return ray.data.from_items(rows, override_num_blocks=_blocks(len(rows), batch_size, actors))
    raise InputError(
        f"expected a ray.data.Dataset, a folder, a URI or a sequence of paths/bytes; got {type(data).__name__}"
    )


# ----------------------------------------------------------------------------------------------
# the pipeline
# ----------------------------------------------------------------------------------------------
def detect_dataset(
    data: Any,
    model: str | os.PathLike,
    *,
    backend: str | None = None,
    family: str | None = None,
    device: str | None = None,
    threads: int | None = None,
    concurrency: int | tuple[int, int] | None = None,
    batch_size: int = 16,
    num_gpus: float | None = None,
    num_cpus: float | None = None,
    preserve_order: bool = False,
    max_restarts: int = -1,
    infer_batch: bool = False,
    ray_remote_args: Mapping[str, Any] | None = None,
    _crash_after: tuple[int, str] | None = None,
    **detect_options: Any,
) -> ray.data.Dataset:
    """Detect objects in every image of ``data`` on a Ray cluster; returns the (lazy) result rows.

    Args:
        data: Images: see `as_dataset` (a Ray Dataset with ``bytes`` / ``image`` / ``path``, a
            folder, a URI, or a sequence of paths or bytes). Decoding happens on the workers.
        model: Model file or hub name. Every worker opens it itself, so a file must be reachable at
            the same path on every node (shared storage), or use a hub name.
        backend: Backend name (None: from the suffix).
        family: Detector family (None: from the model).
        device: Device of each actor's detector (``"cpu"``, ``"cuda:0"``: Ray sets each GPU actor's
            ``CUDA_VISIBLE_DEVICES``, so ``cuda:0`` is the GPU Ray gave it).
        threads: Engine threads per actor (default: so that actors x threads <= cores).
        concurrency: Actors: an int (fixed pool) or ``(min, max)`` (autoscaling). Default: one per
            CPU (one thread each), or one per GPU share with ``num_gpus``.
        batch_size: Images per ``map_batches`` batch.
        num_gpus: GPUs per actor. Default: 1 when the backend or device is a GPU one (TensorRT,
            ``cuda``), else none.
        num_cpus: CPUs each actor reserves (default: see `plan_resources`).
        preserve_order: Output rows in input order (a little slower: a slow batch holds the others back).
        max_restarts: Times Ray restarts a dead actor (-1: always); its unfinished batches are retried.
        infer_batch: One ``detect_batch`` call per batch (for models with a dynamic batch dimension).
        ray_remote_args: More options of ``map_batches`` for the actors (e.g. ``{"memory": 2e9}``,
            ``{"runtime_env": ...}``, ``{"accelerator_type": "A10G"}``).
        _crash_after: Test hook of `DetectorActor` (fault-tolerance tests only).
        **detect_options: Detector options: ``conf``, ``iou``, ``max_det``, ``input_size``,
            ``multi_label``, ``nms``, ``names``...

    Returns:
        A lazy `ray.data.Dataset` of one row per input row (`RESULT_COLUMNS`). Run it
        with ``write_parquet``/``write_json``, `write_parquet` or `collect` (those two
        also count the failures and print the summary line).

    Raises:
        BackendNotInstalledError: Ray is not installed.
        InputError: Bad sizing arguments, or an input without images.
    """
    ray = _ray()
    model = _local(model)
    if batch_size < 1:
        raise InputError(f"batch_size: expected >= 1, got {batch_size}")
    cpus, gpus, node_cpus = _cluster(ray)
    if num_gpus is None and _wants_gpu(backend, device, model):
        num_gpus = 1.0
    plan = plan_resources(
        cpus=cpus,
        gpus=gpus,
        node_cpus=node_cpus,
        concurrency=concurrency,
        threads=threads,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
    )
    ds = as_dataset(data, batch_size=batch_size, actors=plan.max_actors)
    detector_kwargs = dict(detect_options, backend=backend, family=family, device=device, threads=plan.threads)
    pool = plan.actors
    compute = (
        ray.data.ActorPoolStrategy(size=pool)
        if isinstance(pool, int)
        else ray.data.ActorPoolStrategy(min_size=pool[0], max_size=pool[1])
    )
    # Fault tolerance: a dead actor restarts and its unfinished batches are retried. -1 / -1 are Ray Data's
    # own defaults for actor pools; anything else goes to Ray as a remote option.
    remote = dict(ray_remote_args or {})
    if max_restarts != -1:
        remote.update(max_restarts=max_restarts, max_task_retries=-1 if max_restarts else 0)
    out = ds.map_batches(
        DetectorActor,
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=compute,
        fn_constructor_kwargs={
            "model": model,
            "detector_kwargs": detector_kwargs,
            "infer_batch": infer_batch,
            "crash_after": _crash_after,
        },
        num_cpus=plan.num_cpus,
        num_gpus=plan.num_gpus,
        **remote,
    )
    if preserve_order:
        out.context.execution_options.preserve_order = True
    return out


# ----------------------------------------------------------------------------------------------
# running it, with a summary
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSummary:
    """What a run did: the summary line of `collect` and `write_parquet`.

    Attributes:
        images: Rows out (one per input image).
        failed: Rows with an ``error``.
        seconds: Wall time of the run.
        errors: ``(path, error)`` of the first failed rows (at most 20).
    """

    images: int
    failed: int
    seconds: float
    errors: tuple[tuple[str | None, str], ...] = field(default=())

    @property
    def images_per_s(self) -> float:
        """Images per second over the whole run."""
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return f"{self.images} images in {self.seconds:.1f} s ({self.images_per_s:.1f} images/s), {self.failed} failed"

    def report(self) -> str:
        """The summary line, then one line per failed image listed in `errors`."""
        lines = [str(self)]
        lines += [f"  failed: {p}: {e}" for p, e in self.errors]
        if self.failed > len(self.errors):
            lines.append(f"  ... and {self.failed - len(self.errors)} more")
        return "\n".join(lines)


_MAX_ERRORS = 20


def collect(out: ray.data.Dataset) -> tuple[list[dict[str, Any]], RunSummary]:
    """Run ``out`` and bring every row to the driver (fine for results that fit in memory).

    Returns:
        ``(rows, summary)``: rows as plain dicts (lists, not arrays), and the `RunSummary`.
    """
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for batch in out.iter_batches(batch_format="pyarrow", batch_size=None):
        rows += batch.to_pylist()
    return rows, _summary(rows, time.perf_counter() - t0)


def _summary(rows: Sequence[Mapping[str, Any]], seconds: float) -> RunSummary:
    bad = [(r.get("path"), r["error"]) for r in rows if r.get("error") is not None]
    return RunSummary(len(rows), len(bad), seconds, tuple(bad[:_MAX_ERRORS]))


def write_parquet(out: ray.data.Dataset, path: str | os.PathLike) -> RunSummary:
    """Run ``out``, write its rows as Parquet files in the folder ``path``, and count the failures.

    Args:
        out: The result of `detect_dataset`.
        path: An empty or new local folder, or a URI (``s3://...``) of a new prefix.

    Raises:
        InputError: A local folder that already holds files (lite does not overwrite or mix results).
    """
    ray = _ray()
    text = os.fspath(path)
    if "://" not in text:
        p = Path(text)
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            raise InputError(f"--parquet: expected a new or empty folder; {p} already exists and is not empty")
        text = str(p.resolve())
    t0 = time.perf_counter()
    out.write_parquet(text)
    seconds = time.perf_counter() - t0
    back = ray.data.read_parquet(text).select_columns(["path", "error"])
    images, bad = 0, []
    for b in back.iter_batches(batch_format="pyarrow", batch_size=None):
        images += b.num_rows
        if b.column("error").null_count < b.num_rows:
            bad += [(r["path"], r["error"]) for r in b.to_pylist() if r["error"] is not None]
    return RunSummary(images, len(bad), seconds, tuple(bad[:_MAX_ERRORS]))


# ----------------------------------------------------------------------------------------------
# the model, seen from the driver
# ----------------------------------------------------------------------------------------------
def model_info(model: str | os.PathLike, *, num_gpus: float | None = None, **detector_kwargs: Any) -> dict[str, Any]:
    """``Detector.info()`` of the model as a worker opens it (one Ray task with the actors' resources).

    The driver learns the class names and input size without needing the engine or the GPU itself.
    """
    ray = _ray()
    model = _local(model)
    if num_gpus is None and _wants_gpu(detector_kwargs.get("backend"), detector_kwargs.get("device"), str(model)):
        num_gpus = 1.0

    def _info(m: str, kw: dict[str, Any]) -> dict[str, Any]:
        with open_detector(m, **kw) as det:
            info = det.info()
            info["names"] = list(det.names)
            return info

    task = ray.remote(num_cpus=0.01, num_gpus=num_gpus or 0, max_retries=2)(_info)
    return ray.get(task.remote(model, {k: v for k, v in detector_kwargs.items() if v is not None}))


# ----------------------------------------------------------------------------------------------
# COCO evaluation with predictions from the cluster
# ----------------------------------------------------------------------------------------------
def coco_eval(
    model: str | os.PathLike,
    images: str | os.PathLike,
    ann: str | os.PathLike | Mapping[str, Any],
    *,
    backend: str | None = None,
    family: str | None = None,
    conf: float = 0.03,
    iou: float = 0.65,
    max_det: int = 300,
    multi_label: bool = True,
    input_size: int | Sequence[int] | None = None,
    out_json: str | os.PathLike | None = None,
    limit: int | None = None,
    pre_nms_topk: int = 30000,
    concurrency: int | tuple[int, int] | None = None,
    batch_size: int = 16,
    num_gpus: float | None = None,
    progress: bool = True,
    **detector_kw: Any,
) -> EvalResult:
    """[`lite.eval.coco`][lite.eval.coco] with the predictions made on a Ray cluster and scored on the driver.

    Same settings, same category mapping and the same pycocotools call as [`lite.eval.coco`][lite.eval.coco],
    so the metrics are the single-process ones exactly. An image that fails is an error here
    (an evaluation with a missing prediction would be wrong).

    Args:
        model: Model file or hub name (opened on the workers).
        images: Folder holding the images named by the annotations' ``file_name``.
        ann: COCO instances JSON (path or loaded dict).
        backend: Backend name (None: from the model's suffix).
        family: Detector family (None: from the model).
        conf: Score threshold (0.03, as YOLOv6's evaluator).
        iou: NMS IoU threshold (0.65).
        max_det: Detections kept per image (300).
        multi_label: Every class above ``conf`` per anchor is a candidate.
        input_size: Network input for dynamic-shape models.
        out_json: Write the predictions (COCO results JSON) there.
        limit: Evaluate only the first ``limit`` images of the annotation file.
        pre_nms_topk: Candidates per image that reach NMS (30000).
        concurrency: Actors (see `detect_dataset`).
        batch_size: Images per batch.
        num_gpus: GPUs per actor.
        progress: Ray Data's progress bars.
        **detector_kw: More detector options (``device``, ``threads``...).

    Raises:
        InputError: Bad annotations, unmappable classes, or images that failed on the workers.
        ImageNotFoundError: An annotated image is missing from ``images``.
    """
    from lite.eval import annotated_images, category_map, coco_results, score_results

    ray = _ray()
    data, folder, records = annotated_images(images, ann, limit)
    options = dict(
        detector_kw,
        backend=backend,
        family=family,
        conf=conf,
        iou=iou,
        max_det=max_det,
        multi_label=multi_label,
        input_size=input_size,
        pre_nms_topk=pre_nms_topk,
    )
    info = model_info(model, num_gpus=num_gpus, **options)
    cmap = category_map(data["categories"], info["names"])
    rows_in = [{"path": str((folder / r["file_name"]).resolve()), "image_id": r["id"]} for r in records]
    ds = ray.data.from_items(rows_in, override_num_blocks=_blocks(len(rows_in), batch_size, 4))
    out = detect_dataset(
        ds,
        model,
        concurrency=concurrency,
        batch_size=batch_size,
        num_gpus=num_gpus,
        **options,
    )
    out.context.enable_progress_bars = progress
    rows, summary = collect(out)
    if summary.failed or summary.images != len(records):
        raise InputError(f"the evaluation needs a prediction for every image; {summary.report()}")
    order = {r["id"]: k for k, r in enumerate(records)}
    rows.sort(key=lambda r: order[r["image_id"]])
    results: list[dict[str, Any]] = []
    for r in rows:
        xyxy = np.asarray(r["boxes"], dtype=np.float32).reshape(-1, 4)
        results += coco_results(r["image_id"], xyxy, np.asarray(r["scores"], np.float32), r["class_ids"], cmap)
    settings = {
        "model": info["model"],
        "backend": info["backend"],
        "input_size": list(info["input_size"]),
        "conf": conf,
        "iou": iou,
        "max_det": max_det,
        "multi_label": multi_label,
        "pre_nms_topk": pre_nms_topk,
    }
    return score_results(data, records, results, settings, out_json=out_json, seconds=summary.seconds, mapping=cmap.how)

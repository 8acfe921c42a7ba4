"""Detection and evaluation over large image sets on Ray Data (``pip install 'lite-detect[ray]'``).

One detector per Ray actor, built once per actor from a model path or hub name (a session is never
pickled); images stream through `ray.data.Dataset.map_batches` and come out as one row per image::

    import ray
    from lite.tools.distributed import detect_dataset

    ds = ray.data.read_binary_files("s3://bucket/frames/", include_paths=True)   # or a folder / a list of paths
    out = detect_dataset(ds, "yolov6lite_s_320_decoded.onnx", backend="ort", concurrency=8, batch_size=16, conf=0.25)
    out.write_parquet("detections/")

Output rows (`RESULT_COLUMNS`, in this order, after the input columns that are not image data):
``path`` (str or null), ``image_height`` / ``image_width`` (int32, 0 when the image failed),
``boxes`` (list of ``[x1, y1, x2, y2]`` float32, original-image pixels), ``scores`` (float32),
``class_ids`` (int64), ``names`` (the class name of each detection), ``truncated`` (the file was a
truncated JPEG, decoded in part) and ``error`` (null, or ``"ImageError: ..."`` for an image that could
not be read or detected). A segmentation or pose model adds its `TASK_COLUMNS` after them: ``masks`` (one COCO RLE
``{"size": [H, W], "counts": str}`` per detection, original-image pixels), or ``keypoints`` (``[[x, y, score],
...]`` per detection) and ``num_keypoints``. Parquet and JSON write these rows as they are;
`lite.Detections.from_record` reads one back, masks and keypoints included. Image classifiers are refused
(`TaskNotSupportedError`): classify with `lite.cv.Classifier` (``classify_batch``, ``classify_stream``).

A bad image never stops the job: it becomes a row with ``error`` set, and no input row is dropped.
Actors restart after a crash (``max_restarts``) and Ray Data retries their unfinished batches, so every
row still comes out exactly once, through a killed actor or a killed node. On clusters of several nodes
the model's bytes go through the object store (`ship_model`), the pool always leaves some node a whole CPU
for read tasks (`plan_resources`), and `detect_to_parquet` resumes a job cut off with its driver.

``import lite.tools.distributed`` does not import Ray; the functions do, when called.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lite import backends
from lite.core.errors import (
    BackendNotInstalledError,
    ClusterError,
    ImageNotFoundError,
    InputError,
    InputTypeError,
    LiteError,
    ModelNotFoundError,
    StalledJobError,
)
from lite.data.io import IMAGE_SUFFIXES, image_paths

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    import ray.data

    from lite.cv.detector import Detector
    from lite.tools.eval import EvalResult

__all__ = [
    "RESULT_COLUMNS",
    "TASK_COLUMNS",
    "RunSummary",
    "coco_eval",
    "collect",
    "connect",
    "detect_dataset",
    "detect_to_parquet",
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
    "truncated",
    "error",
)
#: Columns a model of each task adds after `RESULT_COLUMNS` (a box detector adds none).
TASK_COLUMNS: dict[str, tuple[str, ...]] = {"detect": (), "segment": ("masks",), "pose": ("keypoints", "num_keypoints")}
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
        TaskNotSupportedError: An image classifier (no boxes: lite's distributed jobs write detections).
    """
    from lite.core.errors import TaskNotSupportedError
    from lite.cv.detector import Detector

    if hasattr(Detector, "from_file"):
        try:
            return Detector.from_file(model, family=family, **kwargs)
        except TaskNotSupportedError as e:
            if e.task != "classify":
                raise
            raise TaskNotSupportedError(
                f"{Path(model).name} is an image classifier ({e.reason or 'its outputs'}): lite's distributed jobs "
                f"write detections (boxes, masks, keypoints), one row per image; classify the images with "
                f"lite.cv.Classifier(model).classify_batch / classify_stream instead",
                e.task,
                e.reason,
            ) from e
    if family not in (None, "yolov6"):
        raise InputError(f"family: this lite has only the 'yolov6' family; got {family!r}")
    from lite.cv.yolov6 import YOLOv6

    return YOLOv6(model, **kwargs)


def _result_schema(task: str = "detect") -> pa.Schema:
    """The output columns of a model of ``task``: `RESULT_COLUMNS`, then its `TASK_COLUMNS`."""
    import pyarrow as pa

    types = {
        "path": pa.string(),
        "image_height": pa.int32(),
        "image_width": pa.int32(),
        "boxes": pa.list_(pa.list_(pa.float32())),
        "scores": pa.list_(pa.float32()),
        "class_ids": pa.list_(pa.int64()),
        "names": pa.list_(pa.string()),
        "truncated": pa.bool_(),
        "error": pa.string(),
        "masks": pa.list_(pa.struct([("size", pa.list_(pa.int32())), ("counts", pa.string())])),
        "keypoints": pa.list_(pa.list_(pa.list_(pa.float32()))),
        "num_keypoints": pa.int32(),
    }
    return pa.schema([(c, types[c]) for c in (*RESULT_COLUMNS, *TASK_COLUMNS[task])])


def _task_columns(task: str, dets: Sequence[Any], num_keypoints: int) -> dict[str, list[Any]]:
    """The `TASK_COLUMNS` values of a batch (a failed image: no masks, no keypoints)."""
    if task == "segment":
        return {"masks": [d.masks_rle() if d is not None else [] for d in dets]}
    if task == "pose":
        return {
            "keypoints": [d.keypoints.tolist() if d is not None else [] for d in dets],
            "num_keypoints": [num_keypoints] * len(dets),
        }
    return {}


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


def _from_ray_image(arr: Any) -> np.ndarray:
    """A ``read_images`` array as BGR uint8, whatever mode Ray gave: RGB, RGBA, grayscale ``(H, W)`` / ``(H, W, 1)``."""
    import cv2

    a = np.asarray(arr)
    if a.dtype != np.uint8:
        raise InputError(
            f"image column: expected 8-bit images, got dtype {a.dtype} (read them with "
            "ray.data.read_images(..., mode='RGB'), or use read_binary_files and let lite decode)"
        )
    if a.ndim == 3 and a.shape[0] == 1 and a.shape[2] not in (1, 3, 4):
        a = a[0]  # grayscale read with color images: Ray's variable-shaped tensors give it a leading axis of 1
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        return cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    if a.ndim == 3 and a.shape[2] == 3:
        return np.ascontiguousarray(a[:, :, ::-1])
    if a.ndim == 3 and a.shape[2] == 4:
        return cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGBA2BGR)
    raise InputError(f"image column: expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array; got {a.shape}")


def _load(source: Any) -> tuple[np.ndarray, bool]:
    """The BGR image of one row and whether its file or bytes were a truncated JPEG (decoded in part)."""
    import warnings

    from lite.core.errors import TruncatedImageWarning
    from lite.data.io import load_image

    if isinstance(source, tuple) and source[0] == "rgb":
        return _from_ray_image(source[1]), False
    if source is None:
        raise InputError("the row has no image: expected a 'bytes', 'image' or 'path' value, got nulls")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncatedImageWarning)
        img = load_image(source)
    return img, any(issubclass(w.category, TruncatedImageWarning) for w in caught)


# ----------------------------------------------------------------------------------------------
# the model: found on the driver, shipped through the object store when nodes do not share it
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelRef:
    """The model as the actors get it: a path or hub name each node opens, or files shipped by the driver.

    Attributes:
        name: What the actor opens: a path or hub name, or the model's file name inside ``files``.
        files: Object-store reference to ``{file name: bytes}`` (the model and its companion files,
            such as NCNN's ``.bin``), put once per job; None: every node opens ``name`` itself.
        digest: sha256 of the shipped files (the cache folder's name on each node).
    """

    name: str
    files: Any = None
    digest: str = ""

    def local_path(self) -> str:
        """On a worker: the path to open (shipped files are written once per node, atomically)."""
        if self.files is None:
            return self.name
        import tempfile

        import ray

        from lite.core.files import atomic_write_bytes

        folder = Path(tempfile.gettempdir()) / "lite-ray-models" / self.digest[:24]
        target = folder / self.name
        if not target.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            for fname, data in ray.get(self.files).items():
                if not (folder / fname).is_file():
                    atomic_write_bytes(folder / fname, data)
        return str(target)


def _companions(path: Path) -> list[Path]:
    """The model file and the files that go with it (same stem: NCNN ``.bin``, OpenVINO ``.bin``, sidecars)."""
    out = [path]
    for q in sorted(path.parent.iterdir()):
        if q != path and q.is_file() and (q.stem == path.stem or q.name.startswith(path.name + ".")):
            out.append(q)
    return out


def _working_dir(remote: Mapping[str, Any]) -> str | None:
    """The actors' ``runtime_env`` working_dir of ``ray_remote_args``: a URI (Ray uploads local folders for a whole
    job only).

    Raises:
        InputError: A local folder (Ray would refuse it when the actors start, deep inside the job).
    """
    env = remote.get("runtime_env") or {}
    wd = env.get("working_dir") if isinstance(env, Mapping) else None
    if wd is not None and "://" not in str(wd):
        raise InputError(
            f"ray_remote_args runtime_env working_dir: expected a URI (s3://.../job.zip, gcs://...) for the actors; "
            f"got the local folder {wd!r}, which Ray uploads for a whole job only. Give it to the job instead: "
            "ray.init(runtime_env={'working_dir': ...}) or `ray job submit --working-dir ...` (a relative model path "
            "then stays relative and each node opens it in its copy of the folder)"
        )
    return wd


def _job_working_dir(ray: Any) -> str | None:
    """The working_dir of the job the driver belongs to (``ray.init(runtime_env=...)``, ``ray job submit
    --working-dir``): the URI Ray uploaded it to, or None."""
    wd = ray.get_runtime_context().runtime_env.get("working_dir")
    return str(wd) if wd else None


def _hub_name(text: str) -> bool:
    from lite.core.errors import HubError
    from lite.hub import get as hub_get

    try:
        hub_get(text)
    except HubError:
        return False
    return True


def _find_model(model: str | os.PathLike, working_dir: str | None) -> tuple[str, Path | None]:
    """``(what the actors open, the local file)`` for a path or hub name, checked on the driver.

    Raises:
        ModelNotFoundError: Neither an existing file (here, or inside ``working_dir``) nor a hub name.
    """
    from lite.core.checks import check_model

    check_model(model)
    text = os.fspath(model)
    p = Path(text).expanduser()
    if working_dir is not None and not p.is_absolute():
        # relative to the working_dir each node unpacks: kept as given (a URI cannot be looked into from here)
        inside = (Path(working_dir) / p).is_file() if "://" not in working_dir else not _hub_name(text)
        if inside:
            return text, None
    if p.is_file():  # absolute, symlinks kept (the same link may lead elsewhere on another node)
        return str(p.absolute()), p.absolute()
    if not _hub_name(text):
        raise ModelNotFoundError(
            f"model: {text!r} is neither a file on the driver (looked in {Path.cwd()}) nor a hub name; give a "
            "model file that exists here (lite ships it to the nodes that lack it) or a hub name "
            "(`lite hub list`)"
        )
    from lite.hub import resolve as hub_resolve

    return text, hub_resolve(text, progress=False)


def ship_model(
    ray: Any, model: str | os.PathLike, *, on_every_node: bool | None, nodes: int, working_dir: str | None = None
) -> ModelRef:
    """The `ModelRef` of a job: the model's bytes go through the object store unless every node has it.

    Args:
        ray: The ``ray`` module (initialised).
        model: Model file or hub name.
        on_every_node: True: every node opens the same path (shared storage, or the same image on every
            node); False: ship the bytes; None: ship when the cluster has more than one node.
        nodes: Alive nodes.
        working_dir: The job's ``runtime_env`` working_dir: a relative path inside it stays relative.
    """
    import hashlib

    name, local = _find_model(model, working_dir)
    ship = (nodes > 1) if on_every_node is None else not on_every_node
    if local is None or not ship:
        return ModelRef(name)
    blob = {q.name: q.read_bytes() for q in _companions(local)}
    h = hashlib.sha256()
    for fname in sorted(blob):
        h.update(fname.encode() + b"\0" + hashlib.sha256(blob[fname]).digest())
    return ModelRef(local.name, ray.put(blob), h.hexdigest())


def _readable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.R_OK)


def check_model_on_nodes(ray: Any, ref: ModelRef, info: Cluster) -> None:
    """With a model path every node opens itself: check on each alive node that the file is there (one tiny task
    per node) before any actor starts.

    Raises:
        ModelNotFoundError: The nodes that lack the file, by address and id, and what to do.
    """
    if ref.files is not None or not os.path.isabs(ref.name) or len(info.nodes) < 2:
        return  # shipped, a hub name or a working_dir path (resolved by each node), or the driver's own node only
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    task = ray.remote(num_cpus=0)(_readable)
    probes = [(a, i, task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(i, soft=False)).remote(ref.name))
              for a, i, _, _ in info.nodes]  # fmt: skip
    missing = [f"{a} (node {i[:12]})" for a, i, r in probes if not ray.get(r, timeout=120)]
    if missing:
        raise ModelNotFoundError(
            f"model: {ref.name} cannot be read on node(s) {', '.join(missing)} (model_on_every_node=True says "
            "every node has it); put it on storage every node mounts, or let lite ship it "
            "(model_on_every_node=None or False)"
        )


def _node() -> str:
    """This worker's node, as an error names it."""
    import ray

    ctx = ray.get_runtime_context()
    return f"{ray.util.get_node_ip_address()} (node {ctx.get_node_id()[:12]})"


class DetectorActor:
    """The callable class `detect_dataset` gives to ``map_batches``: one detector per actor.

    Args:
        model: The model (a path or hub name each node opens, or shipped files; never a pickled session).
        detector_kwargs: Keyword arguments of `open_detector`.
        infer_batch: Run each batch through ``detect_batch`` (one engine call for models with a
            dynamic batch) instead of one ``detect`` per image.
        crash_after: Test hook, ``(n, marker_file)``: the first actor to reach its batch ``n + 1``
            while ``marker_file`` does not exist creates it and ends its process (``os._exit``), as a
            killed worker would; the marker makes it happen once per job.
        progress: The job's progress counter (an actor), told the rows of every finished batch.
    """

    def __init__(
        self,
        model: ModelRef,
        detector_kwargs: Mapping[str, Any],
        infer_batch: bool = False,
        crash_after: tuple[int, str] | None = None,
        progress: Any = None,
    ) -> None:
        try:
            self.detector = open_detector(model.local_path(), **detector_kwargs)
        except LiteError as e:  # which node could not open the model: the driver's watchdog raises this error
            e.args = (f"on node {_node()}: {e}",)
            if progress is not None:
                import ray

                try:
                    ray.get(progress.fail.remote(type(e).__name__, str(e)), timeout=30)
                except ray.exceptions.RayError as gone:  # no watchdog to tell: Ray reports the error itself
                    e.add_note(f"(the driver's progress counter was unreachable: {type(gone).__name__})")
            raise
        self.progress = progress
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
        truncated = [False] * n
        for i, src in enumerate(_image_sources(batch)):
            try:
                images[i], truncated[i] = _load(src)
            except Exception as e:  # any undecodable input is that row's error, never the job's
                errors[i] = f"{type(e).__name__}: {e}"
        dets = self._detect(images, errors)
        task = self.detector.task
        cols: dict[str, list[Any]] = {
            "path": [None if p is None else str(p) for p in paths],
            "image_height": [0 if im is None else im.shape[0] for im in images],
            "image_width": [0 if im is None else im.shape[1] for im in images],
            "boxes": [d.xyxy.tolist() if d is not None else [] for d in dets],
            "scores": [d.scores.tolist() if d is not None else [] for d in dets],
            "class_ids": [d.class_ids.tolist() if d is not None else [] for d in dets],
            "names": [d.labels if d is not None else [] for d in dets],
            "truncated": truncated,
            "error": errors,
            **_task_columns(task, dets, self._num_keypoints()),
        }
        own = (*RESULT_COLUMNS, *TASK_COLUMNS[task])
        keep = [c for c in batch.column_names if c not in IMAGE_COLUMNS and c not in own]
        out = pa.Table.from_pydict(cols, schema=_result_schema(task))
        for k, c in enumerate(keep):
            out = out.add_column(k, batch.schema.field(c), batch.column(c))
        if self.progress is not None:
            self.progress.add.remote(n)  # fire and forget: the driver's watchdog reads the count
        return out

    def _num_keypoints(self) -> int:
        """Keypoints per instance of a pose model (its plan's ``kpt_shape``), else 0."""
        plan = self.detector.plan
        shape = plan.options.get("kpt_shape") if plan is not None else None
        return int(shape[0]) if shape else 0

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


def _share(budget: float, actors: int, cap: float) -> float:
    """The largest CPU share per actor, an integer or ``1/k``, with ``actors x share <= budget`` and ``<= cap``.

    With shares of that form, what an actor pool leaves free on a node is a multiple of ``1/k``: when the pool
    reserves at most ``cpus - nodes`` in all, some node keeps at least one whole CPU, whatever the placement.
    """
    per = min(cap, budget / actors)
    if per >= 1:
        return float(math.floor(per))
    return 1.0 / math.ceil(1.0 / per - 1e-9)


def plan_resources(
    *,
    cpus: float,
    gpus: float = 0.0,
    node_cpus: float | None = None,
    nodes: int = 1,
    concurrency: int | tuple[int, int] | None = None,
    threads: int | None = None,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
) -> ResourcePlan:
    """Actor count, threads and Ray resources per actor (pure arithmetic; see `detect_dataset`).

    Read tasks (``read_binary_files``, ``read_images``, S3) each need one whole CPU on one node. The pool
    therefore reserves at most ``cpus - nodes`` CPUs in shares of the form ``1/k`` (or whole CPUs), so
    that at least one node always keeps a whole CPU free, wherever Ray places the actors.

    Args:
        cpus: CPUs of the cluster.
        gpus: GPUs of the cluster.
        node_cpus: CPUs of the largest node (default: ``cpus``).
        nodes: Alive nodes of the cluster.
        concurrency: Actors: an int (fixed pool) or ``(min, max)``. Default: one per GPU share
            when ``num_gpus`` is given, else ``cpus // threads`` (one per CPU with one thread).
        threads: Engine threads per actor. Default: ``node_cpus // actors`` (at least 1), so that
            actors x threads <= cores.
        num_cpus: CPUs each actor reserves. Default: ``threads``, shrunk as above.
        num_gpus: GPUs each actor reserves (TensorRT / CUDA); None: no GPU.

    Raises:
        InputError: A non-positive concurrency, threads or resources; GPU actors on a cluster without
            (enough) GPUs; an explicit ``num_cpus`` that would leave no node a CPU for read tasks (the
            job would hang) or that no node has.
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
        smallest = biggest = concurrency
    else:
        lo, hi = (int(x) for x in concurrency)
        if not 1 <= lo <= hi:
            raise InputError(f"concurrency: expected (min, max) with 1 <= min <= max, got {concurrency}")
        concurrency, smallest, biggest = (lo, hi), lo, hi
    if num_gpus is not None and smallest * num_gpus > gpus + 1e-9:
        raise InputError(
            f"num_gpus: {smallest} actors x {num_gpus:g} GPU need {smallest * num_gpus:g} GPUs; the cluster has "
            f"{gpus:g} (lower concurrency or num_gpus, or add GPU nodes)"
        )
    if threads is None:
        threads = max(1, int(node_cpus // max(1, math.ceil(biggest / nodes))))
    budget = cpus - nodes  # one whole CPU per node stays free for read tasks
    if num_cpus is None:
        # one-CPU nodes: no CPU can stay free; inputs without read tasks (lists, folders) still run
        spare = budget if budget > 0 else cpus / 2
        num_cpus = _share(spare, biggest, float(threads))
        if num_gpus is not None:
            num_cpus = min(num_cpus, 1.0)
    else:
        if num_cpus < 0:
            raise InputError(f"num_cpus: expected >= 0, got {num_cpus}")
        if num_cpus > node_cpus:
            raise InputError(
                f"num_cpus: no node has {num_cpus:g} CPUs (the largest has {node_cpus:g}); the actors could never start"
            )
        if biggest * num_cpus > max(budget, 0) + 1e-9:
            fit = max(budget, 0) / biggest
            raise InputError(
                f"num_cpus: {biggest} actors x {num_cpus:g} CPU would reserve {biggest * num_cpus:g} of the "
                f"cluster's {cpus:g} CPUs on {nodes} node(s), leaving no node a whole CPU for Ray Data's read "
                f"tasks: the job would hang. Use num_cpus <= {fit:.3g} (or leave it unset), or fewer actors"
            )
    return ResourcePlan(concurrency, int(threads), float(num_cpus), num_gpus)


@dataclass(frozen=True)
class Cluster:
    """What the driver sees of the cluster: totals and the alive nodes.

    Attributes:
        cpus: CPUs of the cluster.
        gpus: GPUs of the cluster.
        nodes: ``(node address, node id, CPUs, GPUs)`` of each alive node.
    """

    cpus: float
    gpus: float
    nodes: tuple[tuple[str, str, float, float], ...]

    @property
    def node_cpus(self) -> float:
        """CPUs of the largest node."""
        return max((c for _, _, c, _ in self.nodes), default=self.cpus)


def cluster(ray: Any) -> Cluster:
    """The cluster Ray is connected to (``ray.init()`` first when it is not)."""
    if not ray.is_initialized():
        connect()
    res = ray.cluster_resources()
    nodes = tuple(
        (str(n.get("NodeManagerAddress", "?")), str(n["NodeID"]), float(n["Resources"].get("CPU", 0.0)),
         float(n["Resources"].get("GPU", 0.0)))
        for n in ray.nodes() if n.get("Alive")
    )  # fmt: skip
    return Cluster(float(res.get("CPU", 0.0)), float(res.get("GPU", 0.0)), nodes)


def _auth_failed(e: BaseException | None) -> bool:
    """Whether a failed ``ray.init`` was refused by token authentication (Ray passes that cause on as text)."""
    from ray.exceptions import AuthenticationError

    while e is not None:
        if isinstance(e, AuthenticationError) or "InvalidAuthToken" in str(e) or "AuthenticationError" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def connect(address: str | None = None) -> None:
    """``ray.init(address)``; a cluster that wants a token the driver lacks is a `ClusterError` saying what to do.

    Raises:
        ClusterError: Token authentication failed (Ray retries for about 20 s before that).
        InputError: A ``ray://`` address: Ray Client is not supported (the driver must run in the cluster).
    """
    given = address if address is not None else os.environ.get("RAY_ADDRESS")
    if given is not None and str(given).startswith("ray://"):
        raise InputError(
            f"address: {given} is a Ray Client address, which lite.tools.distributed does not support (Ray Data jobs "
            "need the driver inside the cluster). Run the driver on a cluster node with address='auto' "
            "(lite detect ... --ray --address auto), or submit it as a Ray job; see docs/distributed.md"
        )
    ray = _ray()
    try:
        ray.init(address=address)
    except (ConnectionError, RuntimeError) as e:
        if not _auth_failed(e):
            raise
        where = address or os.environ.get("RAY_ADDRESS") or "auto"
        mode = os.environ.get("RAY_AUTH_MODE", "unset")
        raise ClusterError(
            f"could not connect to the Ray cluster at {where}: its token authentication refused this driver "
            f"(RAY_AUTH_MODE here: {mode}). Set RAY_AUTH_MODE=token and give the cluster's token (print it with "
            "`ray get-auth-token` on the head node) as RAY_AUTH_TOKEN, as a file named by RAY_AUTH_TOKEN_PATH, or "
            "in ~/.ray/auth_token; see docs/distributed.md, Authentication"
        ) from e


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
        InputError: A dataset with no image column (when its schema is known without running it), an empty
            sequence, or an unsupported type.
        ImageNotFoundError: A local folder or file that does not exist, or a folder with no image.
    """
    ray = _ray()
    if isinstance(data, ray.data.Dataset):
        # the schema as far as it is known without running anything (fetching it runs a read: seconds on a
        # cluster); an unknown one is checked per row by the actors ("the row has no image")
        schema = data.schema(fetch_if_missing=False)
        cols = list(schema.names) if schema is not None else list(_INPUT_COLUMNS)
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
def _check_number(value: Any, name: str, *, positive: bool) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputTypeError(f"{name}: expected a number or None, got {value!r} of type {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise InputError(f"{name}: expected a number {'>' if positive else '>='} 0, got {value!r}")


def _check_concurrency(concurrency: Any) -> int | tuple[int, int] | None:
    def is_int(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool)

    if concurrency is None or is_int(concurrency):
        return concurrency
    if isinstance(concurrency, tuple | list) and len(concurrency) == 2 and all(is_int(x) for x in concurrency):
        return (int(concurrency[0]), int(concurrency[1]))
    raise InputTypeError(
        f"concurrency: expected an int (a fixed pool of actors), a (min, max) pair of ints (autoscaling) or None; "
        f"got {concurrency!r} of type {type(concurrency).__name__}"
    )


def check_job_args(
    *,
    batch_size: Any,
    concurrency: Any,
    threads: Any,
    num_cpus: Any,
    num_gpus: Any,
    max_restarts: Any,
    detector_kwargs: Mapping[str, Any],
) -> int | tuple[int, int] | None:
    """Every check of `detect_dataset`'s arguments that needs no cluster: run on the driver before Ray starts.

    Returns:
        ``concurrency`` normalised (a list pair becomes a tuple).

    Raises:
        InputTypeError: An argument of the wrong type (``concurrency=0.5``, ``batch_size="16"``).
        InputError: A wrong value (``conf=5``, ``concurrency=(3, 2)``, ``batch_size=0``).
    """
    from dataclasses import fields

    from lite.core.checks import check_detector_args
    from lite.ops.options import DetectOptions, check_positive_int

    check_positive_int(batch_size, "batch_size")
    concurrency = _check_concurrency(concurrency)
    _check_number(num_cpus, "num_cpus", positive=False)
    _check_number(num_gpus, "num_gpus", positive=True)
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < -1:
        raise InputError(f"max_restarts: expected an int >= -1 (-1: restart always), got {max_restarts!r}")
    known = {f.name for f in fields(DetectOptions)}
    DetectOptions(**{k: v for k, v in detector_kwargs.items() if k in known})
    check_detector_args(
        "model",
        device=detector_kwargs.get("device"),
        threads=threads,
        input_size=detector_kwargs.get("input_size"),
        names=detector_kwargs.get("names"),
    )
    return concurrency


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
    infer_batch: bool | None = None,
    model_on_every_node: bool | None = None,
    ray_remote_args: Mapping[str, Any] | None = None,
    _crash_after: tuple[int, str] | None = None,
    **detect_options: Any,
) -> ray.data.Dataset:
    """Detect objects in every image of ``data`` on a Ray cluster; returns the (lazy) result rows.

    Every argument is checked on the driver before Ray starts (a wrong type or value, a model that is
    neither a file here nor a hub name: a lite error at once, not an actor failure later).

    Args:
        data: Images: see `as_dataset` (a Ray Dataset with ``bytes`` / ``image`` / ``path``, a
            folder, a URI, or a sequence of paths or bytes). Decoding happens on the workers.
        model: Model file or hub name, as the driver sees it (see ``model_on_every_node``).
        backend: Backend name (None: from the suffix).
        family: Detector family (None: from the model).
        device: Device of each actor's detector (``"cpu"``, ``"cuda:0"``: Ray sets each GPU actor's
            ``CUDA_VISIBLE_DEVICES``, so ``cuda:0`` is the GPU Ray gave it).
        threads: Engine threads per actor (default: so that actors x threads <= cores of a node).
        concurrency: Actors: an int (fixed pool) or ``(min, max)`` (autoscaling). Default: one per
            CPU (one thread each), or one per GPU share with ``num_gpus``.
        batch_size: Images per ``map_batches`` batch.
        num_gpus: GPUs per actor. Default: 1 when the backend or device is a GPU one (TensorRT,
            ``cuda``), else none.
        num_cpus: CPUs each actor reserves (default: see `plan_resources`; a value that would leave no
            node a CPU for read tasks is refused).
        preserve_order: Output rows in input order (a little slower: a slow batch holds the others back).
        max_restarts: Times Ray restarts a dead actor (-1: always); its unfinished batches are retried.
        infer_batch: One ``detect_batch`` call per batch (for models with a dynamic batch dimension).
            Default: on for GPU actors, off on CPU.
        model_on_every_node: True: every node opens ``model`` at the same path (shared storage);
            False: the driver ships the model's bytes through the object store (once per job; each
            node writes them to a local cache); None (default): ship when the cluster has more than one
            node. With a working_dir (the job's: ``ray.init(runtime_env={"working_dir": ...})``, ``ray job
            submit --working-dir``; or a URI in ``ray_remote_args["runtime_env"]``) a relative path stays
            relative and each node opens it in its copy of that folder.
        ray_remote_args: More options of ``map_batches`` for the actors (e.g. ``{"memory": 2e9}``,
            ``{"runtime_env": ...}``, ``{"accelerator_type": "A10G"}``). ``$LITE_HOME`` of the driver is
            added to the actors' ``runtime_env`` ``env_vars`` unless given there.
        _crash_after: Test hook of `DetectorActor` (fault-tolerance tests only).
        **detect_options: Detector options: ``conf``, ``iou``, ``max_det``, ``input_size``,
            ``multi_label``, ``nms``, ``names``...

    Returns:
        A lazy `ray.data.Dataset` of one row per input row (`RESULT_COLUMNS`). Run it
        with ``write_parquet``/``write_json``, `write_parquet` or `collect` (those two
        also count the failures, watch for a stalled job and print the summary line).

    Raises:
        BackendNotInstalledError: Ray is not installed.
        InputTypeError: An argument of the wrong type.
        InputError: Bad sizing arguments or detector options, settings that could never run on this
            cluster, or an input without images.
        ModelNotFoundError: ``model`` is neither a file on the driver nor a hub name.
    """
    concurrency = check_job_args(
        batch_size=batch_size,
        concurrency=concurrency,
        threads=threads,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        max_restarts=max_restarts,
        detector_kwargs=dict(detect_options, device=device),
    )
    remote = dict(ray_remote_args or {})
    working_dir = _working_dir(remote)
    running = sys.modules.get("ray")
    if running is None or not running.is_initialized():
        _find_model(model, working_dir)  # before Ray starts (a job's working_dir is known once connected)
    ray = _ray()
    info = cluster(ray)
    ref = ship_model(ray, model, on_every_node=model_on_every_node, nodes=len(info.nodes),
                     working_dir=working_dir or _job_working_dir(ray))  # fmt: skip
    check_model_on_nodes(ray, ref, info)
    if num_gpus is None and _wants_gpu(backend, device, ref.name):
        num_gpus = 1.0
    plan = plan_resources(
        cpus=info.cpus,
        gpus=info.gpus,
        node_cpus=info.node_cpus,
        nodes=max(1, len(info.nodes)),
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
    if max_restarts != -1:
        remote.update(max_restarts=max_restarts, max_task_retries=-1 if max_restarts else 0)
    if os.environ.get("LITE_HOME"):
        env = dict(remote.get("runtime_env") or {})
        env["env_vars"] = {"LITE_HOME": os.environ["LITE_HOME"], **dict(env.get("env_vars") or {})}
        remote["runtime_env"] = env
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    # on the driver's node: the counter lives as long as the driver, whatever other node dies
    progress = ray.remote(_ProgressCounter).options(num_cpus=0, scheduling_strategy=here).remote()
    out = ds.map_batches(
        DetectorActor,
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=compute,
        fn_constructor_kwargs={
            "model": ref,
            "detector_kwargs": detector_kwargs,
            "infer_batch": plan.num_gpus is not None if infer_batch is None else infer_batch,
            "crash_after": _crash_after,
            "progress": progress,
        },
        num_cpus=plan.num_cpus,
        num_gpus=plan.num_gpus,
        **remote,
    )
    _remember(out, _Job(progress, plan, info, _session(ray)))
    if preserve_order:
        out.context.execution_options.preserve_order = True
    return out


# ----------------------------------------------------------------------------------------------
# running it, with a summary and a watchdog
# ----------------------------------------------------------------------------------------------
class _ProgressCounter:
    """Rows finished by the actors of one job, and actors that could not open the model (an actor: the
    driver's watchdog reads it)."""

    def __init__(self) -> None:
        self.rows = 0
        self.failures: list[tuple[str, str]] = []

    def add(self, n: int) -> None:
        self.rows += n

    def fail(self, kind: str, message: str) -> None:
        self.failures.append((kind, message))

    def state(self) -> tuple[int, list[tuple[str, str]]]:
        return self.rows, self.failures


@dataclass(frozen=True)
class _Job:
    progress: Any
    plan: ResourcePlan
    cluster: Cluster
    session: str  # the driver's node id: a job of an earlier Ray session is never touched


_JOBS: dict[int, tuple[Any, _Job]] = {}  # id -> (weak reference to detect_dataset's output, its job)


def _remember(out: Any, job: _Job) -> None:
    """Keep the job of ``out`` while ``out`` lives; its progress counter (an actor) ends with it."""
    import weakref

    key = id(out)

    def forget(_: Any) -> None:
        _, gone = _JOBS.pop(key, (None, None))
        ray = sys.modules.get("ray")
        if gone is not None and ray is not None and ray.is_initialized() and gone.session == _session(ray):
            ray.kill(gone.progress, no_restart=True)

    _JOBS[key] = (weakref.ref(out, forget), job)


def _session(ray: Any) -> str:
    return ray.get_runtime_context().get_node_id()


def _job_of(out: Any) -> _Job | None:
    ref, job = _JOBS.get(id(out), (None, None))
    if ref is None or ref() is not out or job.session != _session(_ray()):
        return None
    return job


#: Seconds without a finished batch after which `collect` and `write_parquet` give up (`StalledJobError`).
STALL_TIMEOUT_S = 300.0


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


def _lite_error_in(e: BaseException) -> LiteError | None:
    """The lite error a Ray error carries (an actor that could not open the model), if any."""
    seen: set[int] = set()
    stack: list[Any] = [e]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, LiteError):
            return x
        stack += [getattr(x, "cause", None), x.__cause__, x.__context__]
    import re

    m = re.search(r"(\w+Error): (on node .*)", str(e))
    return _node_error(m.group(1), m.group(2).splitlines()[0]) if m else None


def _node_error(kind: str, message: str) -> LiteError:
    """The lite error an actor raised on its node, rebuilt on the driver (same class, same message)."""
    import lite.core.errors as errors

    cls = getattr(errors, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, LiteError)):
        cls = ClusterError
    return cls(message)


def _stall_message(job: _Job | None, waited: float) -> str:
    ray = _ray()
    free = ray.available_resources()
    text = f"no batch finished for {waited:.0f} s; the cluster has {free.get('CPU', 0.0):g} CPUs free"
    if job is None:
        return text + " (check that Ray Data's read tasks and the actors can both be scheduled)"
    plan, cl = job.plan, job.cluster
    nodes = ", ".join(f"{a} ({i[:12]}): {c:g} CPU" for a, i, c, _ in cl.nodes)
    return (
        f"{text} of {cl.cpus:g} ({nodes}); the pool asked for {plan.actors} actors x {plan.num_cpus:g} CPU"
        f"{f' x {plan.num_gpus:g} GPU' if plan.num_gpus else ''}. Likely cause: the actors cannot all be placed, "
        "or no node keeps a whole CPU for Ray Data's read tasks (set num_cpus lower or leave it unset, lower "
        "concurrency, or make the read tasks fractional: read_binary_files(..., ray_remote_args={'num_cpus': "
        "0.25})). A model that takes longer than this to load needs a larger stall_timeout."
    )


def _executors() -> set[Any]:
    """Ray Data's running jobs in this process: each one is a thread (``StreamingExecutor-<dataset id>``)."""
    import threading

    from ray.data._internal.execution.streaming_executor import StreamingExecutor

    return {t for t in threading.enumerate() if isinstance(t, StreamingExecutor)}


def _stop(executors: set[Any], runner: Any, error: LiteError) -> None:
    """End the jobs the driver gives up on (``error``): Ray Data's executors started while it waited (``collect``
    and writes alike: a write runs as a dataset of its own), and the thread that waited for them.

    Left running, such a job would hold its actors for as long as the process lives and, once the cluster is gone,
    end the process from Ray's core after 60 s of reconnecting.
    """
    for t in executors:
        t.shutdown(force=True, exception=error)
    runner.join(timeout=30)


def _watched(out: ray.data.Dataset, run: Any, stall_timeout: float) -> Any:
    """``run()`` in a helper thread, raising `StalledJobError` when the job's rows stop moving."""
    import queue
    import threading

    ray = _ray()
    job = _job_of(out)  # None for a dataset not made by detect_dataset (e.g. materialized): no progress to watch
    done: queue.Queue = queue.Queue()

    def target() -> None:
        try:
            done.put((True, run()))
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            done.put((False, e))

    before = _executors()
    runner = threading.Thread(target=target, name="lite-ray-job", daemon=True)
    runner.start()
    last, last_t = -1, time.monotonic()
    while True:
        try:
            ok, value = done.get(timeout=min(1.0, stall_timeout))
            break
        except queue.Empty:
            if job is None:
                continue
            try:
                rows, failures = ray.get(job.progress.state.remote(), timeout=30)
            except ray.exceptions.RayError:  # the counter is gone (its node died): keep waiting, unwatched
                job = None
                continue
            error: LiteError | None = None
            if failures:  # an actor could not open the model: the job cannot be trusted to finish
                error = _node_error(*failures[0])
            elif rows != last:
                last, last_t = rows, time.monotonic()
            elif time.monotonic() - last_t > stall_timeout:
                error = StalledJobError(_stall_message(job, time.monotonic() - last_t))
            if error is not None:
                _stop(_executors() - before, runner, error)
                raise error from None
    if ok:
        return value
    found = _lite_error_in(value) if not isinstance(value, LiteError) else None
    if found is not None:
        raise found from value
    raise value


def collect(
    out: ray.data.Dataset, *, stall_timeout: float = STALL_TIMEOUT_S
) -> tuple[list[dict[str, Any]], RunSummary]:
    """Run ``out`` and bring every row to the driver (fine for results that fit in memory).

    Args:
        out: The result of `detect_dataset`.
        stall_timeout: Seconds without a finished batch before giving up with `StalledJobError`.

    Returns:
        ``(rows, summary)``: rows as plain dicts (lists, not arrays), and the `RunSummary`.

    Raises:
        StalledJobError: No progress for ``stall_timeout`` s (the message names the likely resource cause).
        ClusterError: Or the lite error a node raised (a model it could not open, naming the node).
    """
    t0 = time.perf_counter()

    def run() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for batch in out.iter_batches(batch_format="pyarrow", batch_size=None):
            rows.extend(batch.to_pylist())
        return rows

    rows = _watched(out, run, stall_timeout)
    return rows, _summary(rows, time.perf_counter() - t0)


def _summary(rows: Sequence[Mapping[str, Any]], seconds: float) -> RunSummary:
    bad = [(r.get("path"), r["error"]) for r in rows if r.get("error") is not None]
    return RunSummary(len(rows), len(bad), seconds, tuple(bad[:_MAX_ERRORS]))


def _counting_sink(path: str) -> Any:
    """A Parquet datasink whose write tasks also count their rows and failures (no second read of the output)."""
    from ray.data._internal.datasource.parquet_datasink import ParquetDatasink

    class _Sink(ParquetDatasink):
        counts: tuple[int, int, list[tuple[str | None, str]]] = (0, 0, [])

        def write(self, blocks: Iterable[Any], ctx: Any) -> Any:
            blocks = list(blocks)
            super().write(blocks, ctx)
            n, bad = 0, []
            for b in blocks:
                n += b.num_rows
                if b.column("error").null_count < b.num_rows:
                    t = b.select(["path", "error"]).to_pylist()
                    bad += [(r["path"], r["error"]) for r in t if r["error"] is not None]
            return n, len(bad), bad[:_MAX_ERRORS]

        def on_write_complete(self, write_result: Any) -> None:
            super().on_write_complete(write_result)
            rets = [r for r in write_result.write_returns if r is not None]
            errors = [e for r in rets for e in r[2]][:_MAX_ERRORS]
            self.counts = (sum(r[0] for r in rets), sum(r[1] for r in rets), errors)

    return _Sink(path)


def write_parquet(
    out: ray.data.Dataset, path: str | os.PathLike, *, stall_timeout: float = STALL_TIMEOUT_S
) -> RunSummary:
    """Run ``out``, write its rows as Parquet files in the folder ``path``, and count the failures.

    The counts come from the write tasks themselves (the output is not read back).

    Args:
        out: The result of `detect_dataset`.
        path: An empty or new local folder, or a URI (``s3://...``) of a new prefix.
        stall_timeout: Seconds without a finished batch before giving up with `StalledJobError`.

    Raises:
        InputError: A local folder that already holds files (lite does not overwrite or mix results).
        StalledJobError: No progress for ``stall_timeout`` s.
    """
    text = os.fspath(path)
    if "://" not in text:
        p = Path(text)
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            raise InputError(
                f"--parquet: expected a new or empty folder; {p} already exists and is not empty (to continue the "
                "job that wrote it: --resume / detect_to_parquet(..., resume=True))"
            )
        text = str(p.resolve())
    sink = _counting_sink(text)
    t0 = time.perf_counter()
    _watched(out, lambda: out.write_datasink(sink), stall_timeout)
    seconds = time.perf_counter() - t0
    images, failed, errors = sink.counts
    return RunSummary(images, failed, seconds, tuple(errors))


def _done_ids(path: str, id_column: str) -> tuple[Any, int, int, list[str]]:
    """What an earlier run of the job left in ``path``: ``(ids written, rows, failed rows, files set aside)``.

    A Parquet file that cannot be read (its write was cut off with the driver) is renamed to
    ``<name>.incomplete`` (kept, not deleted) and its rows are done again.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ids, rows, failed, aside = [], 0, 0, []
    for f in sorted(Path(path).glob("*.parquet")):
        try:
            t = pq.read_table(f, columns=[id_column, "error"])
        except (OSError, pa.ArrowInvalid):
            f.rename(f.with_name(f.name + ".incomplete"))
            aside.append(f.name)
            continue
        except KeyError:
            raise InputError(f"resume: {f} has no {id_column!r} column; give the id column the job wrote") from None
        ids.append(t.column(id_column).combine_chunks())
        rows += t.num_rows
        failed += t.num_rows - int(pc.sum(pc.is_null(t.column("error"))).as_py() or 0)
    done = pa.concat_arrays(ids) if ids else None
    return done, rows, failed, aside


class _Skip:
    """``map_batches`` function: drop the rows whose id an earlier run already wrote."""

    def __init__(self, done: Any, id_column: str) -> None:
        self.done, self.id_column = done, id_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow.compute as pc
        import ray

        done = ray.get(self.done) if isinstance(self.done, ray.ObjectRef) else self.done
        if self.id_column not in batch.column_names:
            raise InputError(f"resume: the input has no {self.id_column!r} column (columns: {batch.column_names})")
        return batch.filter(pc.invert(pc.is_in(batch.column(self.id_column), value_set=done)))


def detect_to_parquet(
    data: Any,
    model: str | os.PathLike,
    path: str | os.PathLike,
    *,
    resume: bool = False,
    id_column: str = "path",
    stall_timeout: float = STALL_TIMEOUT_S,
    **kwargs: Any,
) -> RunSummary:
    """`detect_dataset` then `write_parquet`, resumable: a job cut off (driver killed, cluster lost) goes on.

    With ``resume=True`` the rows whose ``id_column`` value is already in a Parquet file of ``path``
    are not detected again; the new rows go to new files beside the old ones (every id ends up in
    exactly one row). ``id_column`` must be stable across runs and present in the input rows: ``path``
    (local folders, lists of paths, ``read_binary_files(..., include_paths=True)``) or an id column of
    your dataset.

    Args:
        data: Images, as for `detect_dataset`.
        model: Model file or hub name.
        path: Local output folder (new, empty, or with ``resume=True`` the folder of the run to continue).
        resume: Continue the job that wrote ``path``.
        id_column: The stable id of a row.
        stall_timeout: As for `write_parquet`.
        **kwargs: Everything else `detect_dataset` takes.

    Returns:
        The summary of this run (its ``images`` are the rows detected now; earlier rows are not counted).

    Raises:
        InputError: ``path`` holds files and ``resume`` is False; a file of ``path`` or the input lacks ``id_column``.
    """
    text = os.fspath(path)
    if resume and "://" in text:
        raise InputError(f"resume: expected a local output folder, got {text!r} (resume reads the ids written so far)")
    out_dir = Path(text)
    if resume and out_dir.is_dir():
        done, rows, failed, aside = _done_ids(text, id_column)
        if done is not None and len(done):
            ray = _ray()
            if not ray.is_initialized():
                connect()
            ds = as_dataset(data, batch_size=kwargs.get("batch_size", 16))
            skip = {"done": ray.put(done), "id_column": id_column}
            pool = ray.data.ActorPoolStrategy(size=1)
            data = ds.map_batches(_Skip, fn_constructor_kwargs=skip, batch_format="pyarrow", compute=pool, num_cpus=0)
        print(f"resume: {rows} rows already in {text} ({failed} failed)" + (f"; set aside: {aside}" if aside else ""))
        out = detect_dataset(data, model, **kwargs)
        sink = _counting_sink(str(out_dir.resolve()))
        t0 = time.perf_counter()
        _watched(out, lambda: out.write_datasink(sink), stall_timeout)
        images, bad, errors = sink.counts
        return RunSummary(images, bad, time.perf_counter() - t0, tuple(errors))
    return write_parquet(detect_dataset(data, model, **kwargs), text, stall_timeout=stall_timeout)


# ----------------------------------------------------------------------------------------------
# the model, seen from the driver
# ----------------------------------------------------------------------------------------------
def model_info(model: str | os.PathLike, *, num_gpus: float | None = None, **detector_kwargs: Any) -> dict[str, Any]:
    """``Detector.info()`` of the model as a worker opens it (one Ray task with the actors' resources).

    The driver learns the class names and input size without needing the engine or the GPU itself.
    The model reaches the task as it reaches the actors (see `ship_model`).
    """
    ray = _ray()
    nodes = len(cluster(ray).nodes)
    ref = ship_model(ray, model, on_every_node=None, nodes=nodes, working_dir=_job_working_dir(ray))
    if num_gpus is None and _wants_gpu(detector_kwargs.get("backend"), detector_kwargs.get("device"), ref.name):
        num_gpus = 1.0

    def _info(m: ModelRef, kw: dict[str, Any]) -> dict[str, Any]:
        with open_detector(m.local_path(), **kw) as det:
            info = det.info()
            info["names"] = list(det.names)
            return info

    task = ray.remote(num_cpus=0.01, num_gpus=num_gpus or 0, max_retries=2)(_info)
    return ray.get(task.remote(ref, {k: v for k, v in detector_kwargs.items() if v is not None}))


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
    num_cpus: float | None = None,
    model_on_every_node: bool | None = None,
    progress: bool = True,
    **detector_kw: Any,
) -> EvalResult:
    """[`lite.tools.eval.coco`][lite.tools.eval.coco] with the predictions made on a Ray cluster and scored on the
    driver.

    Same settings, same category mapping and the same pycocotools call as
    [`lite.tools.eval.coco`][lite.tools.eval.coco],
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
        num_cpus: CPUs per actor (see `detect_dataset`).
        model_on_every_node: See `detect_dataset`.
        progress: Ray Data's progress bars.
        **detector_kw: More detector options (``device``, ``threads``...).

    Raises:
        InputError: Bad annotations, unmappable classes, or images that failed on the workers.
        ImageNotFoundError: An annotated image is missing from ``images``.
    """
    from lite.tools.eval import annotated_images, category_map, coco_results, score_results

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
        num_cpus=num_cpus,
        model_on_every_node=model_on_every_node,
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

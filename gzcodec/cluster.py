"""Encoding many images on a Ray cluster (``pip install 'gzcodec[cluster]'``).

gzcodec's encoder optimises each image, so an archive of a million faces is
tens of CPU-hours. :func:`encode_dataset` (and ``gzcodec encode SRC -o DST
--ray``) runs it on `Ray Data <https://docs.ray.io/en/latest/data/>`_, on an
existing cluster (``address=`` / ``--ray-address`` / ``RAY_ADDRESS``) or on a
local one started for the job:

* **Sources**: a folder, image files, a list of them, or any URI that
  ``pyarrow.fs`` reads (``s3://bucket/faces/`` where the cluster has the
  credentials; ``file:///...``). Folders give their image files in sorted
  order, as the local ``gzcodec encode`` does. Each output is
  ``OUTPUT/<stem>.gzl`` in one folder that every worker, and the machine that
  starts the job, can write (a local or shared file system).
* **Workers**: a pool of actors, each holding ``cpus_per_worker`` CPUs and
  running torch on as many threads. Each loads the model once, reads its
  images, encodes them with :func:`gzcodec.encode_batch` (the function the
  local encoder runs) and writes every file with
  :func:`gzcodec.fileio.write_atomic`: an output is complete or absent.
* **Same bytes**: a file made here is byte for byte the one
  :func:`gzcodec.encode` (or ``gzcodec encode IMAGE``) makes of the image with
  the same settings and seed: :func:`gzcodec.encode_batch` gives each image
  the file it would get alone, whatever batch it runs in.
* **Resumable**: rerunning a job keeps each output that is already there
  *and* checks out (its checksum, model, format version and rate, and its
  payload decodes); one that does not is reported and left alone (``force``
  replaces every output). The hidden temporary files of writes cut short by a
  killed worker are removed before and after each run.
* **Failures**: reading an image and writing its output are tried
  ``1 + retries`` times (storage errors can pass); an image that cannot be
  decoded or encoded fails at once. A batch whose worker dies is run again by
  Ray up to ``retries`` times on a restarted worker; images still lost are
  tried once more one at a time, and reported if that fails too. A failing
  image never stops the job.
* **Manifest**: one JSON object per line (``gzcodec-manifest.jsonl`` in the
  output folder by default), one per source in order, written atomically at
  the end of each run: ``source``, ``output``, ``status`` (``written``,
  ``existing`` or ``failed``), ``bytes``, ``model_id``, ``rate`` (the file's
  rate byte: ``--bits`` for ``face128``, the rate index for v2 models),
  ``error`` and ``attempts``. JSON lines rather than Parquet: readable with
  ``grep``/``jq`` or ``pandas.read_json(lines=True)``, and nothing to install
  to read it where the job's outputs end up.

Ray and pyarrow are imported by the functions that need them, never when this
module is imported, so ``gzcodec.cli`` stays light.

Examples
--------
>>> from gzcodec.cluster import encode_dataset
>>> report = encode_dataset("photos/", "gzl/", bits=4, workers=2)      # doctest: +SKIP
>>> report.written, report.existing, report.failed                     # doctest: +SKIP
(998, 0, 2)
>>> encode_dataset("s3://bucket/faces/", "/shared/gzl", address="auto")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import operator
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .cluster_sources import list_sources
from .cluster_worker import (
    MANIFEST_FIELDS,
    ClusterJob,
    EncodeWorker,
    ManifestRow,
    _message,
    check_output,
)
from .errors import GzcodecError
from .fileio import is_uri
from .network import check_reachable
from .options import DEFAULT_BATCH_SIZE, EncodeOptions, OptionError

__all__ = ["encode_dataset", "ClusterReport", "ManifestRow", "list_sources", "check_output",
           "ClusterJob", "EncodeWorker", "job_failure", "ray_address", "require_ray", "connected",
           "run_pass", "MANIFEST_NAME", "DEFAULT_RETRIES", "MANIFEST_FIELDS"]

#: File name of the manifest in the output folder (unless ``manifest=`` names another).
MANIFEST_NAME = "gzcodec-manifest.jsonl"

#: Further tries of a failing read or write of one image, and of a batch whose worker died.
DEFAULT_RETRIES = 2

_EXTRA = "pip install 'gzcodec[cluster]'"


@dataclasses.dataclass
class ClusterReport:
    """What :func:`encode_dataset` did: counts, the manifest's path and its rows."""

    #: Outputs written by this run.
    written: int
    #: Outputs that were already there and checked out (kept as they were).
    existing: int
    #: Sources with no valid output: their manifest rows say why.
    failed: int
    #: Where the manifest was written.
    manifest: Path
    #: The manifest's rows, one per source in order.
    rows: list[ManifestRow]

    @property
    def ok(self) -> bool:
        """Whether every source has its output."""
        return self.failed == 0


def require_ray():
    """The ``ray`` module, or a :class:`GzcodecError` that says which extra installs it.

    Raises
    ------
    GzcodecError
        Ray Data (``ray`` with ``pyarrow``) is not installed.
    """
    import importlib.util

    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("pyarrow") is None:
        raise GzcodecError(f"encoding on Ray needs Ray Data: {_EXTRA}")
    import ray

    return ray


def ray_address(address: str | None = None) -> str:
    """The Ray address a job connects to: ``address``, else ``RAY_ADDRESS``, else ``"local"``.

    ``ray.init(address=None)`` would attach to whatever cluster Ray last recorded on this
    machine (``/tmp/ray/ray_current_cluster``), and wait for it if it has died; a job
    without an address must start a cluster of its own instead, as documented.

    Examples
    --------
    >>> ray_address("10.0.0.5:6379")
    '10.0.0.5:6379'
    """
    return address or os.environ.get("RAY_ADDRESS") or "local"


@contextlib.contextmanager
def connected(ray, address: str | None) -> Iterator[bool]:
    """Ray, connected to the cluster :func:`ray_address` names for ``address``.

    Yields whether the cluster is a local one started here (a job then sizes its
    workers by this machine's CPUs). A connection made here is closed on the way
    out, which stops a local cluster it started; a connection the caller made
    before is used as it is and left open.

    Raises
    ------
    GzcodecError
        Ray cannot connect (one line, naming the address).
    """
    if ray.is_initialized():
        yield False
        return
    address = ray_address(address)
    try:
        check_reachable(address)  # ray.init would wait on a port where nothing listens
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
    except (OSError, ValueError, RuntimeError) as exc:
        where = "a local cluster" if address == "local" else address
        raise GzcodecError(f"cannot connect to Ray at {where}: {_message(exc)}") from None
    try:
        yield address == "local"
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _data_context(ray, *, progress: bool):
    """Ray Data settings for the job (restored afterwards: the caller's own jobs keep theirs)."""
    with warnings.catch_warnings():  # made on first use, it warns of its own deprecated fields
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ray.data.DataContext.get_current()
    # A batch whose worker died past its retries must not stop the job: its images are
    # found missing afterwards and tried again one at a time.
    wanted = {"max_errored_blocks": -1, "enable_progress_bars": progress}
    saved = {k: getattr(context, k) for k in wanted if hasattr(context, k)}
    data_logger = logging.getLogger("ray.data")
    level = data_logger.level
    if not progress:
        data_logger.setLevel(logging.ERROR)
    for key in saved:
        setattr(context, key, wanted[key])
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(context, key, value)
        data_logger.setLevel(level)


def _fault_tolerance(ray, retries: int) -> dict[str, Any]:
    """Actor options: restart a dead worker, run its batch again at most ``retries`` times.

    Ray Data's own default retries a batch forever, which an image that kills
    its worker every time would turn into a job that never ends. Newer Ray
    versions call these options deprecated; where they are gone, Ray's default
    stays and the images lost are reported after the one-at-a-time pass.
    """
    import inspect

    parameters = inspect.signature(ray.data.Dataset.map_batches).parameters.values()
    if not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters):
        return {}
    return {"max_restarts": -1, "max_task_retries": retries}


def run_pass(ray, pairs: list[tuple[str, str]], job: ClusterJob, *, workers: int,
             cpus_per_worker: int, batch_size: int) -> dict[str, ManifestRow]:
    """One pass of ``job`` over ``(source, output)`` pairs on ``workers`` :class:`EncodeWorker` actors.

    Returns the manifest rows that came back, by source. An image whose batch was
    lost (its worker died past Ray's retries) has no row: :func:`encode_dataset`
    gives those one more pass, one image at a time, and reports what is still
    missing.
    """
    # A job smaller than a batch per worker still gives every worker some of it.
    batch_size = max(1, min(batch_size, -(-len(pairs) // workers)))
    rows: dict[str, ManifestRow] = {}
    with warnings.catch_warnings():
        # Ray's deprecation notices (its own settings, and the retry options: see
        # _fault_tolerance) say nothing the user of this job can act on.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        dataset = ray.data.from_items([{"source": s, "output": o} for s, o in pairs])
        dataset = dataset.map_batches(
            EncodeWorker, fn_constructor_kwargs={"job": job}, batch_size=batch_size,
            batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=cpus_per_worker, **_fault_tolerance(ray, job.retries))
        for block in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            for row in block.to_pylist():
                rows[row["source"]] = ManifestRow(**row)
    return rows


def _execute(ray, pairs: list[tuple[str, str]], job: ClusterJob, *, address: str | None,
             workers: int | None, cpus_per_worker: int, batch_size: int, progress: bool
             ) -> dict[str, ManifestRow]:
    """The job on Ray: the rows that came back, by source (none for an image lost every time)."""
    with connected(ray, address) as local, _data_context(ray, progress=progress):
        n = _worker_count(ray, workers, cpus_per_worker, local=local)
        try:
            rows = run_pass(ray, pairs, job, workers=n, cpus_per_worker=cpus_per_worker,
                        batch_size=batch_size)
            lost = [(s, o) for s, o in pairs if s not in rows]
            if lost:  # their batch's worker died every time: one at a time, once more
                rows.update(run_pass(ray, lost, job, workers=min(n, len(lost)),
                                     cpus_per_worker=cpus_per_worker, batch_size=1))
        except ray.exceptions.RayError as exc:
            raise job_failure(exc) from None
    return rows


def job_failure(exc: Exception) -> GzcodecError:
    """One line for an error that stopped the Ray job (a worker that could not start, ...).

    Ray's message holds the worker's traceback, colour codes and all; the
    gzcodec error raised in the worker (if any) says it best, else Ray's
    first line does.

    Parameters
    ----------
    exc : Exception
        What Ray raised (a ``RayError``; its ``error_msg`` is read where it has one).

    Returns
    -------
    GzcodecError
        ``"the Ray job failed: ..."``, to raise.
    """
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", getattr(exc, "error_msg", None) or str(exc))
    # A gzcodec error raised in a worker (the model it found is not the job's) says it best.
    ours = re.findall(r"^gzcodec\.errors\.\w+: (.+)$", text, flags=re.MULTILINE)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    message = ours[-1] if ours else lines[0] if lines else type(exc).__name__
    return GzcodecError(f"the Ray job failed: {message}")


def _check_arguments(*, workers, cpus_per_worker, batch_size, retries) -> tuple[int | None, ...]:
    """The arguments as Python ints (numpy integers taken), in order; ValueError if out of range."""
    checked: list[int | None] = []
    for name, value, low in (("workers", workers, 1), ("cpus_per_worker", cpus_per_worker, 1),
                             ("batch_size", batch_size, 1), ("retries", retries, 0)):
        if value is None and name == "workers":
            checked.append(None)
            continue
        if not isinstance(value, (bool, int)) and hasattr(value, "__index__"):
            value = operator.index(value)  # a numpy integer: Ray wants Python's
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a whole number >= {low}, not {value!r}")
        checked.append(value)
    return tuple(checked)


def _worker_count(ray, workers: int | None, cpus_per_worker: int, *, local: bool) -> int:
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if workers is None:
        return max(1, cpus // cpus_per_worker)
    if local and workers * cpus_per_worker > cpus:
        raise GzcodecError(f"{workers} workers of {cpus_per_worker} CPUs need "
                           f"{workers * cpus_per_worker} CPUs; this machine's Ray has {cpus}")
    return workers


def encode_dataset(
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    bits: int | None = None,
    rate: int | None = None,
    effort: str | None = None,
    model: str | os.PathLike[str] | None = None,
    loss: str = "mse",
    steps: int | None = None,
    seed: int = 0,
    max_bytes: int | None = None,
    target_ssim: float | None = None,
    options: EncodeOptions | None = None,
    workers: int | None = None,
    cpus_per_worker: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    retries: int = DEFAULT_RETRIES,
    force: bool = False,
    manifest: str | os.PathLike[str] | None = None,
    address: str | None = None,
    progress: bool = True,
) -> ClusterReport:
    """Encode every image of ``sources`` into ``output`` on a Ray cluster; resumable.

    Parameters
    ----------
    sources : path, URI, or a sequence of them
        Folders, image files, or URIs of either that ``pyarrow.fs`` reads
        (see :func:`list_sources`).
    output : path
        The output folder, written by every worker (local, or a file system
        they share); image ``x.jpg`` becomes ``output/x.gzl``.
    bits, rate, effort, model, loss, steps, seed, max_bytes, target_ssim
        As for :func:`gzcodec.encode`; each file is the one it makes.
    options : EncodeOptions, optional
        The encode options as one value, instead of the keywords above (not
        both); format version 2 only.
    workers : int, optional
        Actors in the pool (default: the cluster's CPUs // ``cpus_per_worker``).
    cpus_per_worker : int
        CPUs each actor holds, and the torch threads it runs on.
    batch_size : int
        Images per batch sent to an actor.
    retries : int
        Further tries of a failing read or write, and of a batch whose worker died.
    force : bool
        Replace existing outputs instead of checking and keeping them.
    manifest : path, optional
        Where to write the manifest (default ``output/gzcodec-manifest.jsonl``).
    address : str, optional
        The Ray cluster to use (``"auto"``, ``"host:port"``, ``"ray://..."``);
        by default ``RAY_ADDRESS``, else a local cluster started for the job
        and stopped after it. A Ray already initialised in this process is used
        as it is.
    progress : bool
        Show Ray Data's progress.

    Returns
    -------
    ClusterReport
        Counts, the manifest's path and its rows.

    Raises
    ------
    GzcodecError
        No images, a missing source, an output URI, no model, Ray not
        installed or not reachable. Failing *images* are reported in the
        manifest, not raised.
    ValueError
        An argument out of its range.
    """
    from .container import FORMAT_VERSION
    from .families import family_of
    from .fileio import check_writable, make_folders, plan_outputs, remove_stray_temporaries, write_atomic
    from .model_choice import is_auto
    from .zoo import find_model

    ray = require_ray()
    options = EncodeOptions.from_arguments(
        options, bits=bits, rate=rate, effort=effort, loss=loss, steps=steps, seed=seed,
        max_bytes=max_bytes, target_ssim=target_ssim)
    if options.format_version != FORMAT_VERSION:
        # check_output keeps only such files: a rerun would refuse every output.
        raise ValueError(f"encode_dataset writes format version {FORMAT_VERSION} files only")
    workers, cpus_per_worker, batch_size, retries = _check_arguments(
        workers=workers, cpus_per_worker=cpus_per_worker, batch_size=batch_size, retries=retries)
    out = os.fspath(output)
    if is_uri(out):
        raise GzcodecError(f"{out}: the output must be a folder every worker can write (a local "
                           "or shared file system), not a URI")
    if is_auto(model):  # the manifest and each worker's job name one model
        raise OptionError("$model auto does not go with encode_dataset; name a model")
    info = find_model(model)
    family_of(info).check_options(options, info)  # refused here, not once per image
    names = list_sources(sources)  # a file named twice is encoded once
    if not names:
        raise GzcodecError("no images to encode")
    out_dir = Path(out)
    manifest_path = Path(manifest) if manifest is not None else out_dir / MANIFEST_NAME
    planned, refused = plan_outputs(names, out_dir, suffix=".gzl")
    pairs = [(source, str(dst)) for source, dst in planned]
    job = ClusterJob(model=None if model is None else os.fspath(model), model_id=info.id,
                     options=options, force=force, retries=retries, threads=cpus_per_worker)
    rows = {source: ManifestRow(source, None, model_id=info.id, error=why)
            for source, why in refused.items()}
    outputs = [dst for _, dst in pairs]
    if pairs:
        make_folders(out_dir)  # a file in the way: "not a directory"
        check_writable(outputs)  # a read-only folder is found before the work
        remove_stray_temporaries(outputs)
        try:
            rows.update(_execute(ray, pairs, job, address=address, workers=workers,
                                 cpus_per_worker=cpus_per_worker, batch_size=batch_size,
                                 progress=progress))
        finally:
            # After the workers (those of a cluster started here are stopped by now).
            remove_stray_temporaries(outputs)
        for source, dst in pairs:
            if source not in rows:
                rows[source] = ManifestRow(
                    source, dst, model_id=info.id, attempts=retries + 2,
                    error="a worker died while encoding it, every time it was tried")
    ordered = [rows[source] for source in names]
    text = "".join(row.to_json() + "\n" for row in ordered)
    write_atomic(manifest_path, text.encode(), force=True)
    count = {status: sum(row.status == status for row in ordered)
             for status in ("written", "existing", "failed")}
    return ClusterReport(**count, manifest=manifest_path, rows=ordered)

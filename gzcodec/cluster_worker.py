"""The workers of a Ray job (:mod:`gzcodec.cluster`): each image read, encoded and written, in the manifest.

A worker is a Ray Data actor, :class:`EncodeWorker`: the model loaded once,
each batch encoded with :func:`gzcodec.outputs.encode_many`, every failure
reported in the image's :class:`ManifestRow`, never raised.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import os
import time
from typing import TYPE_CHECKING, Any, Literal, get_args, get_type_hints

from .cluster_sources import _uri_filesystem
from .errors import GzcodecError, OutputExistsError
from .fileio import is_uri
from .options import EncodeOptions

if TYPE_CHECKING:
    from .zoo import LoadedModel

__all__ = ["ManifestRow", "MANIFEST_FIELDS", "ClusterJob", "EncodeWorker", "check_output", "RETRY_DELAY"]


#: Seconds before the first retry of a read or write; doubled for each later one.
RETRY_DELAY = 0.25


@dataclasses.dataclass
class ManifestRow:
    """What became of one source: a line of the manifest (a JSON object of these fields).

    The worker fills one in as it goes (it starts ``failed`` with no error,
    and says ``written`` or ``existing`` once the output is there).
    """

    source: str
    #: The output path; ``None`` for a source refused before the job (its output is an input).
    output: str | None
    status: Literal["written", "existing", "failed"] = "failed"
    #: The output's size (``None`` unless it is there).
    bytes: int | None = None
    model_id: str | None = None
    #: The output's rate byte: ``bits`` for ``face128``, the rate index for v2 models.
    rate: int | None = None
    #: Why the source has no output (``None`` unless ``failed``).
    error: str | None = None
    #: Reads or writes tried (``retries + 2``: a worker died every time it was tried).
    attempts: int = 0

    def to_json(self) -> str:
        """The manifest line (without its newline)."""
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)


#: The fields of each manifest line, in order.
MANIFEST_FIELDS = tuple(field.name for field in dataclasses.fields(ManifestRow))


# --------------------------------------------------------------------------- checking outputs


def check_output(data: bytes, lm: LoadedModel, options: EncodeOptions) -> str | None:
    """Why ``data`` is not a finished output of an encode with ``options`` (``None``: it is).

    A finished output is a whole version 2 ``.gzl`` file (checksum over header
    and payload) of the model ``lm``, at the rate the options ask for (or
    within ``max_bytes``), whose payload decodes to the model's latent. What
    the file does not record (steps, loss, seed, effort) cannot be checked.

    Parameters
    ----------
    data : bytes
        The existing file.
    lm : LoadedModel
        The job's model.
    options : EncodeOptions
        The job's options.
    """
    from .container import FORMAT_VERSION
    from .families import decode_symbols, family_of

    try:
        header = decode_symbols(data, lm).header
    except GzcodecError as exc:
        return str(exc)
    if header.version != FORMAT_VERSION:
        return f"it is a format version {header.version} file, not {FORMAT_VERSION}"
    max_bytes = options.max_bytes
    if max_bytes is not None and len(data) > max_bytes:
        return f"it has {len(data)} bytes, over max_bytes {max_bytes}"
    rate = family_of(lm).expected_rate(options, lm)
    if rate is not None and header.rate != rate:
        return f"it was encoded at rate {header.rate}, not {rate} (other settings)"
    return None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClusterJob:
    """What every worker of a job needs to know (pickled to each actor)."""

    #: The model as the user named it (each worker resolves it), and the id the driver found.
    model: str | None
    model_id: str
    options: EncodeOptions
    #: Replace existing outputs instead of checking and keeping them.
    force: bool
    #: Further tries of a failing read or write.
    retries: int
    #: Torch threads of each worker (its CPUs).
    threads: int


def _message(exc: BaseException) -> str:
    if isinstance(exc, GzcodecError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return f"{type(exc).__name__}: {exc}"


@functools.cache
def _manifest_schema():
    """The Arrow schema of :class:`ManifestRow`: its fields in order, integers as int64, the rest strings."""
    import pyarrow as pa

    hints = get_type_hints(ManifestRow)
    return pa.schema([(name, pa.int64() if int in (hints[name], *get_args(hints[name]))
                       else pa.string()) for name in MANIFEST_FIELDS])


class EncodeWorker:
    """A Ray Data actor: the model loaded once, batches of ``(source, output)`` rows encoded.

    Called with a pyarrow table of ``source`` and ``output`` columns, it
    returns a table of one manifest row per input row (:data:`MANIFEST_FIELDS`).
    Errors are caught per image and reported in its row, never raised (a
    raised error would fail the batch).

    Parameters
    ----------
    job : ClusterJob
        The job's model, options and policies.

    Raises
    ------
    GzcodecError
        The model found on this worker is not the one the job was started with.
    """

    def __init__(self, job: ClusterJob) -> None:
        from .threads import set_threads
        from .zoo import load_model

        set_threads(job.threads)
        self.job = job
        self.lm = load_model(job.model)
        if self.lm.id != job.model_id:
            raise GzcodecError(f"model {job.model or 'default'} is {self.lm.id} on this worker, "
                               f"{job.model_id} where the job was started")
        self._filesystems: dict[str, Any] = {}

    # -- the steps of one image

    def _retrying(self, row: ManifestRow, action):
        """``action()``, tried ``1 + retries`` times while it raises an OSError."""
        for attempt in range(1, self.job.retries + 2):
            row.attempts = max(row.attempts, attempt)
            try:
                return action()
            except OutputExistsError:
                raise
            except OSError:
                if attempt > self.job.retries:
                    raise
                time.sleep(RETRY_DELAY * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _read_bytes(self, source: str) -> bytes:
        if not is_uri(source):
            with open(source, "rb") as f:
                return f.read()
        # One file system object per scheme and host (an S3 client is slow to make).
        scheme, rest = source.split("://", 1)
        key = f"{scheme}://{rest.split('/', 1)[0]}"
        if key not in self._filesystems:
            filesystem, _, prefix = _uri_filesystem(source)
            self._filesystems[key] = filesystem, prefix
        filesystem, prefix = self._filesystems[key]
        with filesystem.open_input_stream(source[len(prefix):]) as f:
            return f.read()

    def _read(self, row: ManifestRow):
        from .imageio import read_model_input

        raw = self._retrying(row, lambda: self._read_bytes(row.source))
        return read_model_input(_Named(raw, row.source), self.lm.config.image_size)

    def _keep_existing(self, row: ManifestRow) -> None:
        from .container import read_file

        try:
            data = self._retrying(row, lambda: read_file(row.output))
            problem = check_output(data, self.lm, self.job.options)
        except (GzcodecError, OSError) as exc:
            data, problem = None, _message(exc)
        if problem is None:
            row.status, row.bytes, row.rate = "existing", len(data), _rate_of(data)
        else:
            row.error = (f"{row.output} exists but is not an output of this job: {problem} "
                         f"(delete it, or use --force to replace every output)")

    def _write(self, row: ManifestRow, data: bytes) -> None:
        from .fileio import write_atomic

        try:
            self._retrying(row, lambda: write_atomic(row.output, data, force=self.job.force))
        except OutputExistsError:
            # Written meanwhile: by an earlier try of this batch on a worker that then died.
            self._keep_existing(row)
            return
        except OSError as exc:
            row.error = _message(exc)
            return
        row.status, row.bytes, row.rate = "written", len(data), _rate_of(data)

    def __call__(self, batch):
        import pyarrow as pa

        rows = [ManifestRow(s, o, model_id=self.job.model_id) for s, o in
                zip(batch.column("source").to_pylist(), batch.column("output").to_pylist(),
                    strict=True)]
        pending, images = [], []
        for row in rows:
            if not self.job.force and os.path.lexists(row.output):
                self._keep_existing(row)
                continue
            try:
                images.append(self._read(row))
                pending.append(row)
            except Exception as exc:  # reported in the manifest, never raised
                row.error = _message(exc)
        from .outputs import encode_many

        # Every failure is reported in its row, never raised (a raised error would fail the batch).
        results = encode_many(images, model=self.lm, options=self.job.options, isolate=(Exception,),
                              write=lambda i, data: self._write(pending[i], data))
        for row, result in zip(pending, results, strict=True):
            if result.error is not None:
                row.error = _message(result.error)
        return pa.Table.from_pylist([dataclasses.asdict(row) for row in rows],
                                    schema=_manifest_schema())


class _Named(io.BytesIO):
    """The bytes of a source file, named in Pillow's messages as its path would be."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name

    def __repr__(self) -> str:
        return repr(self.name)


def _rate_of(data: bytes) -> int:
    from .container import parse_header

    return parse_header(data).rate

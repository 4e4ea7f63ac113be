"""Writing output files so that a reader never sees half of one; the user's cache folder.

Every file gzcodec writes goes to a temporary name in the target folder first
and is then renamed over the target, which POSIX and Windows do atomically.
Without ``force`` the final step is a hard link (or an exclusive create), so
an output that appeared meanwhile is never overwritten either.

With ``force``, replacing an existing file keeps what the user set up around
it: a symbolic link is followed (the file it points to is replaced, the link
stays; a link to nothing is refused, as ``cp`` refuses it), and the replaced
file's permission bits are kept (a 0600 file stays 0600). An error names the
output, never the hidden temporary file.

Every command that writes one output per input (``gzcodec encode``,
``gzcodec decode``, :func:`gzcodec.cluster.encode_dataset`) lists its inputs
with :func:`find_inputs` (a file named twice is taken once; what a folder holds
besides is said, with why) and plans its
outputs with :func:`plan_outputs`, so the same rules hold everywhere.

What gzcodec keeps between runs (the model-id cache, models the user adds,
the bench's classic encodes) lives below :func:`user_cache_folder`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO, TypeVar

from .errors import GzcodecError, OutputExistsError

__all__ = ["write_atomic", "atomic_writer", "remove_stray_temporaries", "user_cache_folder",
           "plan_outputs", "list_inputs", "find_inputs", "Inputs", "skipped_lines", "unique_sources",
           "is_uri", "make_folders", "check_writable"]

#: A source as the caller names it: a path, or a URI (``s3://...``) of a remote file.
Source = TypeVar("Source", bound="str | os.PathLike[str]")

#: A temporary file of :func:`write_atomic` is ``TEMP_PREFIX + name + "." + random + TEMP_SUFFIX``
#: beside the output ``name``; only a process killed mid-write leaves one behind.
TEMP_PREFIX, TEMP_SUFFIX = ".", ".part"


def user_cache_folder() -> Path:
    """gzcodec's folder in the user's cache: ``$XDG_CACHE_HOME/gzcodec``, else ``~/.cache/gzcodec``.

    Read from the environment at each call, so a changed ``XDG_CACHE_HOME``
    (a test, a sandbox) is honoured at once.
    """
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gzcodec"


def _file_mode() -> int:
    """Permissions of a newly created file under the current umask (mkstemp makes 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def make_folders(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` and its missing parents (an existing folder is fine); return it.

    Where a file, or a symbolic link to nothing, is in the way, the error says
    so and names it, instead of ``mkdir``'s "File exists" about the folder.

    Raises
    ------
    NotADirectoryError
        A file is in the way (``face.png/`` for ``face.png/out``); its
        ``filename`` is that file.
    FileNotFoundError
        A symbolic link to nothing is in the way: no folder is created
        through it.

    Examples
    --------
    >>> make_folders("face.png/run")  # doctest: +SKIP
    Traceback (most recent call last):
    NotADirectoryError: [Errno 20] not a directory: 'face.png'
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError, FileNotFoundError):
        for ancestor in [*reversed(path.parents), path]:
            if ancestor.is_symlink() and not ancestor.exists():
                raise FileNotFoundError(errno.ENOENT, "a dangling symbolic link, not a directory",
                                        str(ancestor)) from None
            if ancestor.exists() and not ancestor.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(ancestor)) from None
        raise
    return path


def check_writable(outputs: Iterable[str | os.PathLike[str]]) -> None:
    """Refuse, before any work, outputs whose folder cannot be written.

    Each folder is tried the way :func:`write_atomic` will use it: a
    temporary file is created in it and removed at once (a folder still to
    be made is tried in its nearest existing parent, where it would be made).
    Permissions, ACLs, read-only mounts and a full inode table all count; so
    a command finds a read-only output folder before it encodes, not after.

    Raises
    ------
    OSError
        A folder where nothing can be created (``PermissionError``,
        read-only file system, ...); its ``filename`` is the folder.
    NotADirectoryError, FileNotFoundError
        A file, or a symbolic link to nothing, in the way of a folder (as
        :func:`make_folders` says).
    """
    tried: set[Path] = set()
    for output in outputs:
        folder = Path(output).parent
        existing = next((p for p in (folder, *folder.parents) if p.exists() or p.is_symlink()),
                        Path("."))
        if existing in tried:
            continue
        tried.add(existing)
        if not existing.is_dir():
            make_folders(folder)  # raises: says what is in the way
        try:
            fd, name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}gzcodec-check.", suffix=TEMP_SUFFIX,
                                        dir=existing)
        except OSError as exc:
            raise OSError(exc.errno, f"{exc.strerror}: no output can be written there",
                          str(existing)) from None
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _exists_error(target: Path) -> OutputExistsError:
    return OutputExistsError(f"{target} exists (use --force to overwrite)")


def write_atomic(path: str | os.PathLike[str], data: bytes, *, force: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; refuse to replace it unless ``force``.

    Parameters
    ----------
    path : path
        The output, as for :func:`atomic_writer`.
    data : bytes
        The whole content.
    force : bool
        Replace an existing file (a symbolic link's target, as :func:`atomic_writer` does).

    Returns
    -------
    Path
        ``path`` as given.

    Raises
    ------
    OutputExistsError
        ``path`` exists (or appears while we write) and ``force`` is false.
    OSError
        The folder cannot be written (disk full, permissions, a folder in the
        way); its ``filename`` is ``path``, and nothing is left behind.
    """
    with atomic_writer(path, force=force) as f:
        f.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[BinaryIO]:
    """A binary file to stream an output into, which appears at ``path`` only once complete.

    What :func:`write_atomic` does for content already in memory, for content
    written piece by piece (``np.save``, a serializer): the body writes to a
    temporary file beside ``path`` (missing parent folders are created first);
    when it ends normally the file is synced to disk and put at ``path``: with
    ``force`` renamed over it, without ``force`` hard-linked to it, which fails
    if a file appeared there meanwhile, so nothing is ever overwritten (on a
    file system without hard links, renamed after a last check). When the body
    raises (or is interrupted), ``path`` is left as it was and the temporary
    file is removed.

    Parameters
    ----------
    path : path
        The output. With ``force``, a symbolic link is followed and the file
        it points to is replaced (with the link's target's permission bits);
        a link to nothing is refused, as ``cp`` refuses it, and no folder is
        ever created through a link.
    force : bool
        Replace an existing file.

    Yields
    ------
    BinaryIO
        The temporary file, open for writing.

    Raises
    ------
    OutputExistsError
        ``path`` exists (checked before the body runs, and again when the
        file is put in place) and ``force`` is false.
    OSError
        The folder cannot be written (disk full, permissions, a folder in the
        way); its ``filename`` is ``path``. An error of the body's that names
        a file of its own passes through unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> with atomic_writer(path, force=True) as f:  # doctest: +SKIP
    ...     np.save(f, array)
    """
    given = Path(path)
    if not force and (given.exists() or given.is_symlink()):
        raise _exists_error(given)
    # Replacing a link with a regular file would silently detach whatever the
    # link pointed to: write through it instead, as editors and cp do.
    through_link = force and given.is_symlink()
    target = Path(os.path.realpath(given)) if through_link else given
    if through_link and not target.exists():
        # As cp: a link to nothing is a mistake or a trap, never a place to create
        # the folders it names.
        raise FileNotFoundError(errno.ENOENT, f"not writing through a dangling symbolic link "
                                f"(to {os.readlink(given)})", str(given))
    in_body = False
    try:
        with _temporary_beside(target, force=force, create_folders=not through_link) as f:
            in_body = True
            yield f
            in_body = False
    except OutputExistsError:
        raise
    except OSError as exc:
        if in_body and exc.filename is not None:
            raise  # about a file the body itself reads or writes: its own words
        # The temporary file's name means nothing to the user: name the output.
        raise OSError(exc.errno, exc.strerror or str(exc), str(given)) from None


@contextlib.contextmanager
def _temporary_beside(target: Path, *, force: bool, create_folders: bool = True
                      ) -> Iterator[BinaryIO]:
    """A new temporary file beside ``target``, put in its place if the body succeeds.

    ``create_folders``: create ``target``'s missing folders (never for a link's target).
    """
    if target.is_dir():
        raise IsADirectoryError(21, "is a folder", str(target))
    mode = _file_mode()
    if force:
        with contextlib.suppress(FileNotFoundError):
            st = target.stat()
            if stat.S_ISREG(st.st_mode):
                mode = stat.S_IMODE(st.st_mode)
    if create_folders:
        try:
            make_folders(target.parent)
        except (NotADirectoryError, FileNotFoundError) as exc:  # say what is in the way
            raise OSError(exc.errno, f"{exc.filename} is {exc.strerror}", str(target)) from None
    fd, tmp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.name}.", suffix=TEMP_SUFFIX,
                                    dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            yield f
            f.flush()
            os.fsync(f.fileno())
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise _exists_error(target) from None
            except OSError:  # file systems without hard links
                if target.exists():
                    raise _exists_error(target) from None
                os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def remove_stray_temporaries(outputs: Iterable[str | os.PathLike[str]]) -> int:
    """Delete the temporary files that :func:`write_atomic` left beside ``outputs``; return how many.

    A process killed between creating its temporary file and renaming it
    (``kill -9``, a lost node) leaves a hidden ``.NAME.XXXXXXXX.part`` file;
    the output itself is either complete or absent. Only temporaries of the
    named outputs are touched, so call this when no other process is writing
    them (before or after a job, not during another one).
    """
    wanted: dict[Path, set[str]] = {}
    for output in outputs:
        path = Path(output)
        wanted.setdefault(path.parent, set()).add(path.name)
    removed = 0
    for folder, names in wanted.items():
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            name = entry.name
            if not (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)):
                continue
            # TEMP_PREFIX + output name + "." + mkstemp's random part + TEMP_SUFFIX
            output_name = name[len(TEMP_PREFIX):-len(TEMP_SUFFIX)].rpartition(".")[0]
            if output_name in names and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def is_uri(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` is a URI of a remote file (``s3://...``, ``file:///...``), not a local path."""
    return "://" in os.fspath(source)


def unique_sources(sources: Iterable[Source]) -> list[Source]:
    """``sources`` in order, each file once: a later naming of a file already named is left out.

    Two local paths name the same file when they are the same absolute path
    (``face.png`` and ``./face.png``; a symbolic link is a file of its own, with an
    output of its own); two URIs when they are the same text.

    Examples
    --------
    >>> unique_sources(["a.png", "b.png", "./a.png"])
    ['a.png', 'b.png']
    """
    seen: set[str] = set()
    unique: list[Source] = []
    for source in sources:
        name = os.fspath(source)
        key = name if is_uri(name) else os.path.abspath(name)
        if key not in seen:
            seen.add(key)
            unique.append(source)
    return unique


@dataclasses.dataclass
class Inputs:
    """The local files a command takes (:func:`find_inputs`), and what a named folder held besides."""

    #: The files, in the order named (each once).
    files: list[Path]
    #: Whether one of the inputs is a folder (a command then writes one output per file).
    folder_named: bool
    #: Each entry of a named folder that is not taken, with why (hidden files apart).
    skipped: dict[Path, str] = dataclasses.field(default_factory=dict)


def find_inputs(inputs: Iterable[str | os.PathLike[str]], *, suffixes: Iterable[str],
                kind: str = "an input", reasons: Mapping[str, str] | None = None) -> Inputs:
    """The local files a command takes, whether a folder was named, and what a folder held besides.

    A file is taken as named; a folder gives its files whose suffix is one of
    ``suffixes`` (any case), in sorted order, not its subfolders'. A file
    named twice is taken once (:func:`unique_sources`). URIs are not listed
    here (:func:`gzcodec.cluster.list_sources` reads them). Every other entry
    of a named folder is in :attr:`Inputs.skipped` with why (a subfolder, a
    symbolic link to nothing, another suffix), except hidden ones (``.name``).

    Parameters
    ----------
    inputs : iterable of paths
        Files and folders, in order.
    suffixes : iterable of str
        The suffixes of the files a folder gives (``".png"``, ``".gzl"``), lower case.
    kind : str
        What such a file is, for the reason a file of another suffix is skipped
        (``"an image Pillow can open"``).
    reasons : mapping, optional
        A reason of its own for some other suffixes (``{".gzl": "..."}``).

    Raises
    ------
    GzcodecError
        An input that does not exist.

    Examples
    --------
    >>> found = find_inputs(["photos"], suffixes=(".png",), kind="a PNG")  # doctest: +SKIP
    >>> found.files, found.skipped                                           # doctest: +SKIP
    ([PosixPath('photos/a.png')], {PosixPath('photos/notes.txt'): 'not a PNG (by its suffix)'})
    """
    wanted = tuple(suffixes)
    reasons = dict(reasons or {})
    files: list[Path] = []
    skipped: dict[Path, str] = {}
    folder_named = False
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            folder_named = True
            for entry in sorted(path.iterdir()):
                suffix = entry.suffix.lower()
                if entry.name.startswith("."):
                    continue  # hidden: .DS_Store, a writer's temporary file
                if entry.is_symlink() and not entry.exists():
                    skipped[entry] = "a symbolic link to nothing"
                elif entry.is_dir():
                    skipped[entry] = "a folder (folders inside are not searched)"
                elif suffix not in wanted:
                    skipped[entry] = reasons.get(suffix, f"not {kind} (by its suffix)")
                elif not entry.is_file():
                    skipped[entry] = "not a regular file"
                else:
                    files.append(entry)
        elif path.exists():
            files.append(path)
        else:
            raise GzcodecError(f"{path}: no such file or folder")
    return Inputs(unique_sources(files), folder_named, skipped)


def list_inputs(inputs: Iterable[str | os.PathLike[str]], *, suffixes: Iterable[str]
                ) -> tuple[list[Path], bool]:
    """The local files a command takes, and whether a folder was named (:func:`find_inputs`).

    Returns
    -------
    files : list of Path
        The files, in the order named.
    folder_named : bool
        Whether one of ``inputs`` is a folder (a command then writes one output per file).

    Raises
    ------
    GzcodecError
        An input that does not exist.
    """
    found = find_inputs(inputs, suffixes=suffixes)
    return found.files, found.folder_named


def skipped_lines(skipped: Mapping[Path, str], *, names_shown: int = 3) -> list[str]:
    """:attr:`Inputs.skipped` as a few lines: one per folder and reason, naming a few files.

    Examples
    --------
    >>> skipped_lines({Path("in/a.txt"): "not an image", Path("in/b.txt"): "not an image"})
    ['in: skipped 2 entries, not an image: a.txt, b.txt']
    >>> skipped_lines({Path("in/x.png"): "a symbolic link to nothing"})
    ['in/x.png: skipped, a symbolic link to nothing']
    """
    groups: dict[tuple[Path, str], list[Path]] = {}
    for path, why in skipped.items():
        groups.setdefault((path.parent, why), []).append(path)
    lines = []
    for (folder, why), paths in groups.items():
        if len(paths) == 1:
            lines.append(f"{paths[0]}: skipped, {why}")
            continue
        names = ", ".join(p.name for p in paths[:names_shown])
        more = f", ... ({len(paths) - names_shown} more)" if len(paths) > names_shown else ""
        lines.append(f"{folder}: skipped {len(paths)} entries, {why}: {names}{more}")
    return lines


def _stem(source: str) -> str:
    """The name of ``source`` without its suffix (a URI's last path element's)."""
    if is_uri(source):
        return PurePosixPath(source.split("://", 1)[1]).stem
    return Path(source).stem


def plan_outputs(sources: Sequence[Source], folder: str | os.PathLike[str] | None = None, *,
                 suffix: str, output: str | os.PathLike[str] | None = None
                 ) -> tuple[list[tuple[Source, Path]], dict[Source, str]]:
    """Each source's output path, and why each refused source must not be written.

    Two rules hold for every command that writes one file per input: an
    output must not be one of the inputs (``gzcodec encode x.gzl --force``
    would replace the file it reads), and two sources must not make the same
    output (``a.png`` and ``a.jpg`` both make ``a.gzl``: the first in order
    is kept).

    Parameters
    ----------
    sources : sequence of paths or URIs
        The inputs, in order. A URI (``s3://...``) is never an input on this
        machine; it needs a ``folder``.
    folder : path, optional
        Outputs go to ``folder/<stem><suffix>``. By default each output is
        beside its source, with ``suffix`` instead of the source's.
    suffix : str
        The outputs' suffix (``".gzl"``, ``".png"``).
    output : path, optional
        The output of a single source, as named (instead of ``folder``).

    Returns
    -------
    pairs : list of (source, Path)
        The sources to write, each with its output, in order.
    refused : dict
        For each refused source, one line saying why (without the source's name).

    Raises
    ------
    ValueError
        ``output`` given with a ``folder`` or with several sources, or a URI
        among the sources without a ``folder``.

    Examples
    --------
    >>> plan_outputs(["a.png", "a.jpg"], "out", suffix=".gzl")
    ([('a.png', PosixPath('out/a.gzl'))], {'a.jpg': 'a.png is also written to out/a.gzl; rename one of them'})
    """
    if output is not None and (folder is not None or len(sources) > 1):
        raise ValueError("output names the file of a single source; give a folder for several")
    inputs = {os.path.realpath(s) for s in sources if not is_uri(s)}
    taken: dict[str, Source] = {}
    pairs: list[tuple[Source, Path]] = []
    refused: dict[Source, str] = {}
    for source in sources:
        name = os.fspath(source)
        if output is not None:
            dst = Path(output)
        elif folder is not None:
            dst = Path(folder) / (_stem(name) + suffix)
        elif is_uri(name):
            raise ValueError(f"{name}: a URI's output needs a folder")
        else:
            dst = Path(name).with_suffix(suffix)
        real = os.path.realpath(dst)
        if real in inputs:
            refused[source] = f"the output {dst} is an input; give another output"
        elif real in taken:
            refused[source] = f"{os.fspath(taken[real])} is also written to {dst}; rename one of them"
        else:
            taken[real] = source
            pairs.append((source, dst))
    return pairs, refused

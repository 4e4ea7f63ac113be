"""The sources of a Ray job (:mod:`gzcodec.cluster`): folders, files and URIs that ``pyarrow.fs`` reads."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import PurePosixPath

from .errors import GzcodecError
from .fileio import is_uri, list_inputs, unique_sources

__all__ = ["list_sources"]


def _uri_filesystem(uri: str):
    """``(filesystem, path, prefix)`` of a URI: ``prefix + path`` names a file on it again."""
    from pyarrow import fs as pafs

    try:
        filesystem, path = pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:  # an unknown scheme (ArrowInvalid), no credentials
        raise GzcodecError(f"{uri}: cannot open ({exc})") from None
    at = uri.rfind(path.rstrip("/")) if path.rstrip("/") else -1
    prefix = uri[:at] if at > 0 else uri.split("://", 1)[0] + "://"
    return filesystem, path, prefix


def _list_uri(uri: str, suffixes: tuple[str, ...]) -> list[str]:
    from pyarrow import fs as pafs

    filesystem, path, prefix = _uri_filesystem(uri)
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.File:
        return [uri]
    if info.type != pafs.FileType.Directory:
        raise GzcodecError(f"{uri}: no such file or folder")
    entries = filesystem.get_file_info(pafs.FileSelector(path, recursive=False))
    return sorted(prefix + e.path for e in entries
                  if e.type == pafs.FileType.File and PurePosixPath(e.path).suffix.lower() in suffixes)


def list_sources(sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """The image files a job encodes: files as given, folders' image files in sorted order, each once.

    Parameters
    ----------
    sources : path, URI, or a sequence of them
        Folders (their image files, not their subfolders, as ``gzcodec
        encode`` takes them), image files, or URIs of either that
        ``pyarrow.fs`` reads (``s3://...``, ``file:///...``).

    Raises
    ------
    GzcodecError
        A source that does not exist.
    """
    from .imageio import image_suffixes

    items = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    found: list[str] = []
    for item in items:
        source = os.fspath(item)
        if is_uri(source):
            found.extend(_list_uri(source, image_suffixes()))
        else:  # as gzcodec encode lists them
            found.extend(str(p) for p in list_inputs([source], suffixes=image_suffixes())[0])
    return unique_sources(found)

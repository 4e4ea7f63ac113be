"""What a run trains on: a folder's images decoded once (and cached), and each step's batch."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import ImageInputError
from ..fileio import atomic_writer
from ..imageio import list_images, load_image, to_model_input
from ..train_options import VAL_IMAGES, TrainOptions

__all__ = ["load_images", "validation_images", "draw_batch"]


def _decode_folder(paths: list[Path], size: int, log: Callable[[str], None]) -> torch.Tensor:
    """Decode ``paths`` into one uint8 tensor, skipping (and naming) unreadable files."""
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    n = 0
    for path in paths:
        try:
            arr, _ = to_model_input(load_image(path), size)
        except ImageInputError as exc:
            log(f"skipped: {exc}")
            continue
        out[n] = torch.from_numpy(np.array(arr)).permute(2, 0, 1)
        n += 1
    if n == 0:
        raise ImageInputError(f"none of the {len(paths)} images could be read")
    return out[:n]


def validation_images(folder: str | Path, size: int, *,
                      log: Callable[[str], None] = lambda line: None) -> torch.Tensor:
    """The first ``VAL_IMAGES`` images of ``folder``: the faces every validation record uses."""
    return load_images(folder, size, log=log)[:VAL_IMAGES]


def load_images(folder: str | Path, size: int, *, cache_dir: Path | None = None,
                log: Callable[[str], None] = lambda line: None) -> torch.Tensor:
    """All images of ``folder`` as uint8 ``(N, 3, size, size)``: what a run trains on.

    Each image is centre-cropped and resized to ``size`` as the encoder does;
    unreadable files are skipped and named to ``log``.

    Parameters
    ----------
    folder : path
        The images.
    size : int
        The model's image side.
    cache_dir : path, optional
        Keep the decoded images here as one .npy file named by the folder's
        files and sizes, so that a later run on the same folder reads that.
    log : callable
        Receives a line per skipped file, and one when the cache is written.
    """
    paths = list_images(folder)
    if not paths:
        raise ImageInputError(f"no images found in {folder}")
    if cache_dir is None:
        return _decode_folder(paths, size, log)
    key = hashlib.sha256("\n".join(f"{p}:{p.stat().st_size}" for p in paths).encode())
    cache = cache_dir / f"images-{size}-{key.hexdigest()[:16]}.npy"
    if cache.exists():
        return torch.from_numpy(np.load(cache))
    log(f"decoding {len(paths)} images (cached in {cache} for later runs)")
    data = _decode_folder(paths, size, log)
    # Replaced if another run wrote it meanwhile: the same images make the same file.
    with atomic_writer(cache, force=True) as f:  # a file object: np.save would append ".npy" to a name
        np.save(f, data.numpy())
    return data


def draw_batch(data: torch.Tensor, opts: TrainOptions, step: int, levels: int, *, rank: int = 0,
               world: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Process ``rank``'s images (float, ``channels_last``) and rate positions of ``step``.

    One generator per step keeps the data order identical across resumes, and
    across numbers of processes: each takes its slice of the same batch.
    """
    rng = np.random.default_rng([opts.seed, step])
    idx = torch.from_numpy(rng.integers(0, len(data), opts.batch_size))
    part = slice(rank * opts.batch_size // world, (rank + 1) * opts.batch_size // world)
    x = data[idx[part]].float().div_(255)
    if rng.random() < 0.5:
        x = x.flip(3)
    x = x.contiguous(memory_format=torch.channels_last)
    position = torch.from_numpy(rng.uniform(0, levels - 1, opts.batch_size)).float()
    return x, position[part]

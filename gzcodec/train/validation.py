"""Validation: the encoder's guess on the validation images, in bytes, PSNR and SSIM."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..models.context_model import ContextModel

__all__ = ["val_positions", "ValRecord", "evaluate"]


def val_positions(levels: int) -> tuple[float, ...]:
    """Validation rate positions: every other trained level, and the top one.

    >>> val_positions(9), val_positions(10)
    ((0.0, 2.0, 4.0, 6.0, 8.0), (0.0, 2.0, 4.0, 6.0, 8.0, 9.0))
    """
    even = [float(r) for r in range(0, levels, 2)]
    return tuple(even if even[-1] == levels - 1 else [*even, float(levels - 1)])


@dataclasses.dataclass(frozen=True)
class ValRecord:
    """The encoder's guess on the validation images at one rate position (:func:`evaluate`).

    One element of a ``log.jsonl`` record's ``"val"`` list (:meth:`to_json`).

    Attributes
    ----------
    position : float
        The rate position, in ``[0, levels - 1]``.
    nbytes : float
        Estimated bytes per image: the information content of the guess under
        the context model, without the header (``"bytes"`` in JSON).
    psnr, ssim : float
        Mean PSNR (dB) and SSIM over the images, as the bench measures them
        (:mod:`gzcodec.metrics`): plain means of the per-image values, so PSNR
        is ``inf`` if any image came back exact (the bench's convention too).
    """

    position: float
    nbytes: float
    psnr: float
    ssim: float

    def to_json(self) -> dict[str, float]:
        """``{"position", "bytes", "psnr", "ssim"}``, as ``log.jsonl`` stores it."""
        return {"position": self.position, "bytes": self.nbytes, "psnr": self.psnr,
                "ssim": self.ssim}


def _mean_quality(decoded: torch.Tensor, images: torch.Tensor) -> tuple[float, float]:
    """The bench's PSNR and SSIM (:mod:`gzcodec.metrics`) of uint8 batches, each averaged."""
    from ..metrics import psnr, ssim

    pairs = list(zip(images.permute(0, 2, 3, 1).numpy(), decoded.permute(0, 2, 3, 1).numpy(),
                     strict=True))
    return (float(np.mean([psnr(a, b) for a, b in pairs])),
            float(np.mean([ssim(a, b) for a, b in pairs])))


@torch.no_grad()
def evaluate(model: ContextModel, images: torch.Tensor,
             positions: tuple[float, ...] | None = None) -> list[ValRecord]:
    """Estimated bytes (information content, no header), PSNR and SSIM of the encoder's guess.

    ``images`` are uint8 ``(N, 3, S, S)``; one record per rate position (by
    default :func:`val_positions` of the model's levels; positions above the
    model's top level are left out).
    """
    if positions is None:
        positions = val_positions(model.config.levels)
    was_training = model.training
    model.eval()
    x = images.float() / 255
    y_u = model.analyse(x)  # the same at every rate
    records = []
    for r in positions:
        if r > model.config.levels - 1:
            continue
        guess = model.guess(y_u, torch.full((x.shape[0],), float(r)))
        # Rounded half to even, not half up as tensor_to_pixels and the decoder do: the two
        # differ by one level at halves (and, in float32, just below them); keeping this
        # keeps the logged metrics comparable with those of earlier runs.
        decoded = torch.round(model.reconstruct(guess).clamp(0, 1) * 255)
        psnr, ssim = _mean_quality(decoded.to(torch.uint8), images)
        records.append(ValRecord(position=r, nbytes=float(guess.bits.mean() / 8), psnr=psnr,
                                 ssim=ssim))
    model.train(was_training)
    return records

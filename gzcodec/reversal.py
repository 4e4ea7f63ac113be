"""GAN reversal: find the quantized latent ``z`` whose image ``G(z)`` best matches the input.

This is the encoder's optimisation loop, in one place. For a batch of images:

1. start from the encoder network's guess ``z0 = E(x)``;
2. run ``steps`` of Adam on ``z``, where the generator always sees the
   *quantized* latent (rounding with a straight-through gradient), so that the
   latent being optimised is the one that will be stored, and the loss is

       loss = lambda_level * 255**2 * distortion(G(q(z)), x) + rate_weight * bpp(z)

   with the same ``lambda_level`` the model was trained with at that level, so
   that refinement moves along the model's own rate-distortion trade-off;
3. return, per image, the quantized latent with the lowest loss seen, so
   refinement never makes a file worse than the encoder's guess.

Distortions: ``"mse"`` (L2), ``"l1"``, ``"ssim"``, ``"ms-ssim"`` and ``"mix"``
(0.84 MS-SSIM + 0.16 L1, the mix Zhao et al. 2017 found best for image
restoration). Each is scaled to MSE's size near 27 dB so that one
``lambda_level`` serves them all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from .losses import LOSS_NAMES
from .models.face_model import FaceModel
from .models.quantization import quantize, quantize_ste, symbol_range
from .refinement import DEFAULT_EFFORT, DEFAULT_STEPS, EFFORTS

if TYPE_CHECKING:
    from .models.context_model import ContextModel, Guess

__all__ = ["LOSSES", "DEFAULT_STEPS", "EFFORTS", "DEFAULT_EFFORT", "invert", "refine",
           "rd_objective", "rate_distortion", "count_image_steps", "sga_sample", "anneal"]

# DEFAULT_STEPS, EFFORTS and DEFAULT_EFFORT live in gzcodec.refinement, without torch (the
# command line's help shows them); re-exported here beside the refinement that uses them.

# Multipliers that bring each distortion to MSE's scale near 27 dB (MSE ~ 0.002,
# mean |error| ~ 0.03, 1 - SSIM ~ 0.15), so lambda keeps its meaning.
_L1_SCALE = 0.06
_SSIM_SCALE = 0.013


def _report_image_steps(on_step: Callable[[int], None], images: int, finished: int) -> None:
    """Report one finished step of a batch of ``images`` as ``images`` image-steps."""
    on_step(images)


def count_image_steps(on_step: Callable[[int], None] | None, *, images: int
                      ) -> Callable[[int], None] | None:
    """An ``on_step`` for :func:`invert`/:func:`refine` of a batch that reports image-steps.

    :func:`invert` and :func:`refine` call ``on_step`` with the number of the
    step just finished; the encoders' progress (``encode_batch(on_step=...)``)
    counts image-steps, ``images`` per step of a batch of ``images``. ``None``
    stays ``None``, so the loops skip the call. One module-level adapter (a
    partial, not a closure) serves both loops.
    """
    return None if on_step is None else functools.partial(_report_image_steps, on_step, images)


def _ssim_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    from pytorch_msssim import ssim

    return _SSIM_SCALE * (1 - ssim(x_hat, x, data_range=1.0, size_average=False))


def _ms_ssim_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    from pytorch_msssim import ms_ssim

    # 128-pixel images are too small for 5 scales with 11-pixel windows.
    return _SSIM_SCALE * (1 - ms_ssim(x_hat, x, data_range=1.0, size_average=False, win_size=7))


def _mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return ((x_hat - x) ** 2).mean(dim=(1, 2, 3))


def _l1(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return _L1_SCALE * (x_hat - x).abs().mean(dim=(1, 2, 3))


def _mix(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return 0.84 * _ms_ssim_loss(x_hat, x) + 0.16 * _l1(x_hat, x)


#: Distortion functions by name (:data:`gzcodec.losses.LOSS_NAMES`): ``(x_hat, x) -> per-image loss``.
LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = dict(
    zip(LOSS_NAMES, (_mse, _l1, _ssim_loss, _ms_ssim_loss, _mix), strict=True))


def rate_distortion(rate_bits: torch.Tensor | None, x_hat: torch.Tensor, x: torch.Tensor, *,
                    lam: float | torch.Tensor, distortion: Callable = _mse,
                    rate_weight: float = 1.0) -> torch.Tensor:
    """Per-image ``lam * 255**2 * distortion(x_hat, x) + rate_weight * bpp``: the one RD objective.

    What every model is trained to minimise (``rate_bits`` is the information
    content per image, ``lam`` the trade-off at its rate level or position)
    and what reversal and refinement minimise, so that they move along the
    model's own rate-distortion curve. ``rate_bits=None`` leaves the rate out
    (reversal at ``rate_weight=0``).
    """
    loss = lam * 255**2 * distortion(x_hat, x)
    if rate_bits is not None:
        pixels = x.shape[-1] * x.shape[-2]
        loss = loss + rate_weight * rate_bits / pixels
    return loss


def _objective(model: FaceModel, z: torch.Tensor, x: torch.Tensor, *, bits: int, lam: float,
               distortion: Callable, rate_weight: float) -> torch.Tensor:
    step = model.config.step(bits)
    x_hat = model.generate(quantize_ste(z, step), bits).clamp(0, 1)
    rate = model.rate_bits(z, bits) if rate_weight else None
    return rate_distortion(rate, x_hat, x, lam=lam, distortion=distortion,
                           rate_weight=rate_weight)


def invert(
    model: FaceModel,
    images: torch.Tensor,
    *,
    bits: int,
    steps: int = DEFAULT_STEPS,
    loss: str = "mse",
    rate_weight: float = 1.0,
    lr: float = 0.5,
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Quantized latents (integer symbols, int64 ``(N, C, h, w)``) for ``images``.

    Parameters
    ----------
    model : FaceModel
        The network (eval mode; its parameters are not changed).
    images : Tensor
        ``(N, 3, S, S)`` floats in [0, 1] at the model's size.
    bits : int
        Quantization precision, 2..16.
    steps : int
        Adam steps of refinement after the encoder's guess (0: the guess alone).
    loss : str
        Distortion to minimise: one of :data:`LOSSES`.
    rate_weight : float
        Weight of the rate term (0 ignores size and only fits the image).
    lr : float
        Adam learning rate in quantization steps (scaled by the step size).
    on_step : callable, optional
        Called with the number of finished steps (for progress bars).

    Notes
    -----
    The loop draws nothing at random: same image, model and options give the
    same symbols.

    Examples
    --------
    >>> q = invert(model, torch.rand(2, 3, 128, 128), bits=6, steps=10)  # doctest: +SKIP
    >>> q.shape  # doctest: +SKIP
    torch.Size([2, 32, 8, 8])
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
    if not 2 <= bits <= 16:
        raise ValueError(f"bits must be 2..16, not {bits}")
    distortion = LOSSES[loss]
    cfg = model.config
    step = cfg.step(bits)
    lam = cfg.level_lambdas[cfg.level(bits)]
    # The per-image loss of a latent z: the RD objective at this precision's level.
    objective = functools.partial(_objective, model, x=images, bits=bits, lam=lam,
                                  distortion=distortion, rate_weight=rate_weight)

    with torch.no_grad():
        guess = model.clip(model.encode_latent(images, bits), bits)
        best_z = quantize(guess, step)
        best_loss = objective(best_z)

    if steps > 0:
        z = best_z.clone().requires_grad_(True)
        optim = torch.optim.Adam([z], lr=lr * step)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=steps)
        for i in range(steps):
            per_image = objective(z)
            with torch.no_grad():
                # per_image was computed at the quantized z: exactly what would be stored.
                better = per_image < best_loss
                best_loss[better] = per_image[better]
                best_z[better] = quantize(z[better], step)
            optim.zero_grad(set_to_none=True)
            per_image.sum().backward()
            optim.step()
            schedule.step()
            with torch.no_grad():
                z.copy_(model.clip(z, bits))
            if on_step is not None:
                on_step(i + 1)
        with torch.no_grad():
            final = quantize(z, step)
            final_loss = objective(final)
            better = final_loss < best_loss
            best_z[better] = final[better]

    symbols = torch.round(best_z / step).to(torch.int64)
    return symbols.clamp(*symbol_range(bits))



# -- v2 models: stochastic Gumbel annealing ------------------------------------------------

def sga_sample(y: torch.Tensor, tau: float, generator: torch.Generator) -> torch.Tensor:
    """A soft, stochastic rounding of ``y`` at temperature ``tau`` (Yang et al. 2020).

    Each element moves towards its floor or its ceiling with a Gumbel-softmax
    weight that favours the nearer one, and becomes a hard rounding as
    ``tau -> 0``. Unlike straight-through rounding, the loss sees what a
    different rounding *would* cost, so the latent can cross rounding
    boundaries where that pays.
    """
    floor = torch.floor(y)
    frac = y - floor
    eps = 1e-5
    logits = torch.stack([
        -torch.atanh(frac.clamp(eps - 1, 1 - eps)) / tau,
        -torch.atanh((1 - frac).clamp(eps - 1, 1 - eps)) / tau,
    ], dim=-1)
    uniform = torch.rand(logits.shape, generator=generator).clamp(1e-10, 1 - 1e-10)
    gumbel = -torch.log(-torch.log(uniform))
    weights = torch.softmax((logits + gumbel) / tau, dim=-1)
    return floor + weights[..., 1]


def rd_objective(model: ContextModel, y: torch.Tensor, y_hat: torch.Tensor, x: torch.Tensor,
                 position: torch.Tensor, *, distortion: Callable, autocast: bool = False,
                 features: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image :func:`rate_distortion` of a v2 model's latent at rate ``position``.

    ``y`` is the latent whose rate is counted and ``y_hat`` the decoded latent
    that the context and the generator see (both equal to the stored integers
    once rounded). The same trade-off the model was trained under, so
    refinement moves along the model's own rate-distortion curve.
    """
    enc_gain, dec_gain = model.gains(position)
    rate = model.prior.rate_bits(y, y_hat, enc_gain, position, features)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        x_hat = model.synthesise(y_hat, dec_gain)
    return rate_distortion(rate, x_hat.clamp(0, 1), x, lam=model.lam(position),
                           distortion=distortion)


def refine(
    model: ContextModel,
    y: torch.Tensor,
    images: torch.Tensor,
    position: torch.Tensor,
    *,
    iterations: int = EFFORTS[DEFAULT_EFFORT],
    loss: str = "mse",
    lr: float = 0.02,
    seed: int = 0,
    guess: Guess | None = None,
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Integer latents (float tensor) for ``images``, refined from the encoder's ``y``.

    Parameters
    ----------
    model : ContextModel
        A v2 model in eval mode (its parameters are not changed).
    y : Tensor
        ``(N, M, h, w)`` the encoder's latent, already scaled by the encoder
        gain at ``position`` (one quantization step = 1).
    images : Tensor
        ``(N, 3, S, S)`` floats in [0, 1].
    position : Tensor
        ``(N,)`` rate positions.
    iterations : int
        Adam iterations of stochastic Gumbel annealing (0: round ``y``).
    loss : str
        Distortion to minimise: one of :data:`LOSSES`.
    lr : float
        Adam's learning rate, in quantization steps.
    seed : int
        Seed of the Gumbel noise.
    guess : Guess, optional
        The encoder's guess at ``position`` (:meth:`ContextModel.guess` of
        the ``y_u`` that ``y`` scales): its ``q`` (the rounding of ``y``) is
        what refinement must beat, its ``features`` the hyperprior's, kept
        fixed. Without it ``y`` is rounded here and no hyperprior features
        are used.
    on_step : callable, optional
        Called with the number of finished iterations.

    Returns the guess itself where refinement did not lower the objective, so
    a refined file is never worse than the guess under it.

    Examples
    --------
    >>> q = refine(model, y, x, torch.full((2,), 3.0), iterations=24)  # doctest: +SKIP
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, not {iterations}")
    distortion = LOSSES[loss]
    if guess is None:
        rounded, features = torch.round(y.detach()), None
    else:
        # ContextModel.guess rounded y already: the one definition, not a second rounding here.
        if guess.q.shape != y.shape:
            raise ValueError(f"the guess's latent {tuple(guess.q.shape)} is not y's {tuple(y.shape)}")
        rounded, features = guess.q, guess.features
    objective = functools.partial(_rounded_objective, model, images, position, distortion, features)
    (refined,) = anneal([y], [rounded], objective, iterations=iterations, lr=lr, seed=seed,
                        on_step=on_step)
    return refined


def _rounded_objective(model: ContextModel, x: torch.Tensor, position: torch.Tensor,
                       distortion: Callable, features: torch.Tensor | None, y_hat: torch.Tensor, *,
                       autocast: bool = False) -> torch.Tensor:
    """:func:`rd_objective` of a latent that is both counted and decoded as it is (refinement's)."""
    return rd_objective(model, y_hat, y_hat, x, position, distortion=distortion, autocast=autocast,
                        features=features)


def anneal(latents: Sequence[torch.Tensor], start: Sequence[torch.Tensor],
           objective: Callable[..., torch.Tensor], *, iterations: int, lr: float, seed: int,
           on_step: Callable[[int], None] | None = None) -> list[torch.Tensor]:
    """Integer latents found together by stochastic Gumbel annealing; ``start`` where it does no better.

    The one annealing loop of the v2 encoders (:func:`refine`, and the
    enhanced family's refinement of its two latents): ``iterations`` Adam
    steps on a copy of each of ``latents``, each step drawing a soft rounding
    (:func:`sga_sample`, in the order of ``latents``) at a temperature that
    falls from 0.5 to 0.05, then a hard rounding.

    Parameters
    ----------
    latents : sequence of Tensor
        The continuous latents to start from (not changed).
    start : sequence of Tensor
        Their integer guesses, one per latent, kept per image where the
        refined latents' objective is not lower.
    objective : callable
        ``objective(*latents, autocast=False)``: the per-image ``(N,)``
        rate-distortion of latents (``autocast=True`` while annealing).
    iterations : int
        Adam steps (0: ``start`` itself).
    lr : float
        Adam's learning rate, in quantization steps.
    seed : int
        Seed of the Gumbel noise.
    on_step : callable, optional
        Called with the number of finished iterations.

    Examples
    --------
    >>> (q,) = anneal([y], [torch.round(y)], objective, iterations=24, lr=0.02, seed=0)  # doctest: +SKIP
    """
    if iterations == 0:
        return list(start)
    generator = torch.Generator().manual_seed(seed)
    params = [latent.detach().clone().requires_grad_(True) for latent in latents]
    optim = torch.optim.Adam(params, lr=lr)
    for i in range(iterations):
        # Anneal from a soft 0.5 to a nearly hard 0.05 over the run.
        tau = 0.5 * (0.1 ** (i / max(iterations - 1, 1)))
        per_image = objective(*[sga_sample(p, tau, generator) for p in params], autocast=True)
        optim.zero_grad(set_to_none=True)
        per_image.sum().backward()
        optim.step()
        if on_step is not None:
            on_step(i + 1)
    with torch.no_grad():
        refined = [torch.round(p) for p in params]
        before = objective(*start)
        better = (objective(*refined) < before)[:, None, None, None]
    return [torch.where(better, new, old) for new, old in zip(refined, start, strict=True)]

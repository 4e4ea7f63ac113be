"""The realism bench's ``report.md`` and ``results.json`` (:mod:`gzcodec.bench.realism_run`).

The report leads with the command that made it, then one table per budget
(each β and WebP), then issue 22's targets, each checked on the numbers above
it (the most realistic β measured against β = 0 at the same bytes):

1. sharpness: every band of β = 1 within 0.7-1.3 of the originals' at budgets of 150 B and below;
2. KID on dlib's descriptors at least halved at 100 and 150 B, the two 95 % intervals apart;
3. identity share at most 3 points below β = 0 and PSNR at most 2 dB below, at every budget;
4. decode time within 1.5x of the fidelity decode, training within 6 CPU-hours.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..fileio import write_atomic

__all__ = ["check_targets", "render_realism_report", "write_realism_report"]


def _f(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _variant_name(variant: str) -> str:
    return "WebP" if variant == "webp" else f"gzcodec {variant}"


def _table(rows: list[dict]) -> list[str]:
    lines = ["| decode | fit | bytes | PSNR (dB) | SSIM | same person | sharpness by band "
             "(1/8→1 Nyquist) | KID ×10³ [95 %] | decode (ms) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        share = "n/a" if r["same_person"] is None else f"{100 * r['same_person']:.1f} %"
        bands = "n/a" if r["sharpness"] is None else " / ".join(f"{v:.2f}" for v in r["sharpness"])
        kid = ("n/a" if r["kid"] is None else
               f"{1e3 * r['kid']:.2f} [{1e3 * r['kid_low']:.2f}, {1e3 * r['kid_high']:.2f}]")
        lines.append(f"| {_variant_name(r['variant'])} | {r['fitted']}/{r['images']} | "
                     f"{_f(r['mean_bytes'], 1)} | {_f(r['psnr'])} | {_f(r['ssim'], 3)} | {share} | "
                     f"{bands} | {kid} | {_f(r['decode_ms'], 1)} |")
    return lines


def _by(results: dict) -> dict[tuple[str, int], dict]:
    return {(s["variant"], s["budget"]): s for s in results["summaries"]}


def _sharpness_target(rows: dict, top: str, budgets: list[int]) -> str:
    low = [b for b in budgets if b <= 150 and rows[top, b]["sharpness"] is not None]
    ok = bool(low) and all(0.7 <= v <= 1.3 for b in low for v in rows[top, b]["sharpness"])
    return f"{'met' if ok else 'NOT met'} at {', '.join(f'{b} B' for b in low) or 'no budget'}"


def _kid_target(rows: dict, top: str) -> str:
    parts, ok = [], True
    for b in (100, 150):
        zero, real = rows.get(("β=0", b)), rows.get((top, b))
        if zero is None or real is None or zero["kid"] is None or real["kid"] is None:
            parts.append(f"{b} B: not measured")
            ok = False
            continue
        good = real["kid"] <= zero["kid"] / 2 and real["kid_high"] < zero["kid_low"]
        ok &= good
        parts.append(f"{b} B: {1e3 * zero['kid']:.2f} → {1e3 * real['kid']:.2f} ×10⁻³ "
                     f"({'halved, intervals apart' if good else 'not halved with intervals apart'})")
    return f"{'met' if ok else 'NOT met'}: " + "; ".join(parts)


def _fidelity_target(rows: dict, top: str, budgets: list[int]) -> str:
    ok, parts = True, []
    for b in budgets:
        zero, real = rows[("β=0", b)], rows[(top, b)]
        if zero["psnr"] is None or real["psnr"] is None:
            continue
        drop_db = zero["psnr"] - real["psnr"]
        good = drop_db <= 2
        text = f"{b} B: PSNR {-drop_db:+.2f} dB"
        if zero["same_person"] is not None and real["same_person"] is not None:
            drop_points = 100 * (zero["same_person"] - real["same_person"])
            good &= drop_points <= 3
            text += f", identity {-drop_points:+.1f} points"
        ok &= good
        parts.append(text)
    return f"{'met' if ok else 'NOT met'}: " + "; ".join(parts)


def _time_target(rows: dict, top: str, budgets: list[int], results: dict) -> str:
    ratios = [rows[top, b]["decode_ms"] / rows["β=0", b]["decode_ms"] for b in budgets
              if rows[top, b]["decode_ms"] and rows["β=0", b]["decode_ms"]]
    ratio = max(ratios) if ratios else math.inf
    hours = ((results.get("realism") or {}).get("training") or {}).get("cpu_hours")
    ok = ratio <= 1.5 and hours is not None and hours <= 6
    return (f"{'met' if ok else 'NOT met'}: decode time ×{_f(ratio)} of the fidelity decode "
            f"(largest over the budgets); training {_f(hours)} CPU-hours")


def check_targets(results: dict) -> list[str]:
    """Issue 22's four targets on ``results``, one line each (empty without β = 0 and a β above it)."""
    betas = sorted(results["betas"])
    if 0 not in betas or betas[-1] <= 0:
        return []
    rows, top, budgets = _by(results), f"β={betas[-1]:g}", results["budgets"]
    return [f"1. Sharpness of {top}, every band 0.7-1.3 at ≤ 150 B: {_sharpness_target(rows, top, budgets)}",
            f"2. KID at least halved at 100 and 150 B: {_kid_target(rows, top)}",
            f"3. Identity ≤ 3 points and PSNR ≤ 2 dB below β=0: {_fidelity_target(rows, top, budgets)}",
            f"4. Time: {_time_target(rows, top, budgets, results)}"]


def render_realism_report(results: dict) -> str:
    """The Markdown report of a realism bench's results."""
    realism = results["realism"]
    lines = ["# Realism bench", "", "```", results["command"] or "(run from Python)", "```", "",
             f"{results['images']} images of `{results['image_dir']}`; model "
             f"`{results['model']['name']}` ({results['model']['id']}); realism decoder "
             + (f"`{realism['name']}` ({realism['id']}, {realism['training'].get('steps', '?')} steps, "
                f"{realism['training'].get('cpu_hours', '?')} CPU-hours)" if realism else "none")
             + f". Identity: {results['identity']}. {results['date']}, {results['wall_time_s']:.0f} s.",
             "", "Each gzcodec file is the largest within the budget, decoded at each β; WebP is its "
             "best scale variant's largest file within it. Means over the faces that fit; the "
             "sharpness of a band is the decodes' power over the originals' (1.0: as sharp); KID is "
             "between the decodes' and the originals' dlib face descriptors (paired bootstrap).", ""]
    rows = results["summaries"]
    for budget in results["budgets"]:
        lines += [f"## ≤ {budget} B", "", *_table([r for r in rows if r["budget"] == budget]), "",
                  f"![original, each β, WebP at {budget} B](grid-{budget}B.png)", ""]
    targets = check_targets(results)
    if targets:
        lines += ["## Targets (issue 22)", "", *targets, ""]
    return "\n".join(lines)


def write_realism_report(out: Path, results: dict) -> None:
    """``results.json`` and ``report.md`` in ``out``, each written atomically."""
    write_atomic(out / "results.json", (json.dumps(results, indent=1) + "\n").encode(), force=True)
    write_atomic(out / "report.md", render_realism_report(results).encode(), force=True)

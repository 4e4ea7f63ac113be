"""Export a face training checkpoint as a bundled model, with its section of the model card.

One command, rerun on every newer snapshot of a training run (from the repository root)::

    python scripts/export_default_model.py results/training-face-v2/checkpoint.safetensors --force
    python scripts/export_default_model.py results/training-face-v3/checkpoint.safetensors \
        --model face128-v3

It writes

* ``gzcodec/zoo/weights/MODEL.safetensors``: float16 weights named ``MODEL`` (``--model``,
  default ``face128-v2``), with the step count and CPU-hours read from the checkpoint
  (``gzcodec.train.export_model``), the data it was trained on in the file's metadata, and
  the coder's tables at the model's coding window (:data:`MODELS`; ``--table-radius``);
* ``MODEL``'s section of ``gzcodec/zoo/weights/MODEL_CARD.md``, from its template
  (``scripts/model_card_v2.md``, ``scripts/model_card_v3.md``): id, file size, steps,
  CPU-hours and the last validation row of the run's ``log.jsonl`` at or before the
  checkpoint's step (the ``log.jsonl`` beside the checkpoint, else the run's in
  ``results/``, else ``--log``). The card's opening and every other model's section are
  kept as they are; a model new to the card goes first.

These two files are the only places that name the snapshot (its id, steps, CPU-hours); the
README points to the card. Replacing the weights changes the model id, so ``.gzl`` files made
with the previous snapshot no longer decode: an existing file is replaced only with
``--force``. Exporting the same checkpoint again writes the same bytes (the same id).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = ROOT / "gzcodec" / "zoo" / "weights"
CARD = WEIGHTS_DIR / "MODEL_CARD.md"
#: How every model's section of the card starts: ``# `NAME` ...``.
MODEL_HEADING = "# `"
TRAINING = {"data": "CelebA 128x128 copy, train/ (21,371 images)",
            "machine": "2-core CPU, 1-2 torch threads"}


@dataclasses.dataclass(frozen=True)
class Bundled:
    """A model this script exports: its card template, its training run, its description."""

    template: str
    """The template of its card section, in ``scripts/``."""
    run: str
    """Its training run's folder in the repository (the log, the curve)."""
    description: str
    """The weights file's description; ``{levels}`` and ``{snapshot}`` are filled in."""
    table_radius: int | None = None
    """The coding window of its tables; ``None``: the coder's default."""


MODELS = {
    "face128-v2": Bundled(
        "model_card_v2.md", "results/training-face-v2",
        "Faces, 128x128 RGB. v2 context model: encoder + generator over a 96x8x8 latent, "
        "mean-scale hyperprior with position context, continuous rate 0..255 over "
        "{levels} trained levels. {snapshot} Trained on CelebA (non-commercial research only)."),
    # Its top rates spread wider than the default window: at radius 64 its files lose 6 dB at
    # rate 255; windowed at 511, next to nothing, decoding as fast
    # (results/training-face-v3/table-radius.txt).
    "face128-v3": Bundled(
        "model_card_v3.md", "results/training-face-v3",
        "Faces, 128x128 RGB. v3 enhanced context model: v2's transforms with residual blocks, "
        "a 96x8x8 latent under a mean-scale hyperprior with position context and, from the "
        "middle rates up, a 48x16x16 enhancement latent coded given it; continuous rate "
        "0..255 over {levels} trained levels. {snapshot} Trained on CelebA (non-commercial "
        "research only).", table_radius=511),
}
#: How the card and the file's metadata describe the snapshot: interim while the run has
#: steps left in its plan, complete once its learning rate has decayed to the end.
SNAPSHOT = {
    False: {"description": "Interim snapshot of a run still training.",
            "snapshot": "interim: the run goes on ({run}/)",
            "PROGRESS": "so far (run still in progress: this is a snapshot)",
            "PROGRESS_NOTE": "Training goes on"},
    True: {"description": "The end of its run (learning rate decayed).",
           "snapshot": "the end of the run: its learning rate decayed to the last planned step "
                       "({run}/)",
           "PROGRESS": "(the whole run: its learning rate decayed to the last planned step)",
           "PROGRESS_NOTE": "The run is complete"},
}
#: The network's parts, as the card names them (those a model has).
PARTS = {"encoder": "encoder", "generator": "generator", "prior": "entropy model",
         "enhancement_encoder": "enhancement encoder",
         "enhancement_injection": "enhancement injection",
         "enhancement_prior": "enhancement entropy model"}
#: File header bytes, added to the log's information content for whole-file sizes.
HEADER_BYTES = 14


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def val_row(log: Path, step: int) -> dict:
    """The last validation record of ``log`` at or before ``step``."""
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "val" in r and r["step"] <= step]
    if not rows:
        raise SystemExit(f"error: {log} has no validation record at or before step {step}")
    return max(rows, key=lambda r: r["step"])


def val_table(row: dict, levels: int) -> str:
    """The validation record as a Markdown table: rate position, nearest rate byte, bytes, PSNR."""
    from gzcodec.models.context_model import RATE_INDEX_MAX

    val = sorted(row["val"], key=lambda v: v["position"])
    top = levels - 1  # positions run over the trained levels, 0..levels - 1
    cells = {
        f"rate position (of 0..{top})": [f"{v['position']:g}" for v in val],
        "nearest rate byte": [str(round(v["position"] * RATE_INDEX_MAX / top)) for v in val],
        "bytes": [f"{v['bytes']:.0f}" for v in val],
        "PSNR (dB)": [f"{v['psnr']:.2f}" for v in val],
    }
    lines = ["| " + " | ".join([label, *values]) + " |" for label, values in cells.items()]
    lines.insert(1, "|" + "---|" * (len(val) + 1))
    return "\n".join(lines)


def parameter_counts(weights: Path) -> str:
    """The exported model's parameters, in all and per part (counted, never copied by hand)."""
    from gzcodec.zoo import load_model

    network = load_model(str(weights)).network
    total = sum(p.numel() for p in network.parameters())
    counted = "; ".join(f"{label} {sum(p.numel() for p in getattr(network, name).parameters()):,}"
                        for name, label in PARTS.items() if hasattr(network, name))
    return f"{total:,} ({counted}; the per-level gains the rest)"


def run_complete(training: dict) -> bool:
    """Whether the checkpoint is at the end of its planned run (its decay finished)."""
    return training["steps"] >= training["options"]["steps"]


def sections(card_text: str) -> tuple[str, dict[str, str]]:
    """The card's opening (before the first model's heading) and each model's section, in order."""
    lines = card_text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith(MODEL_HEADING)]
    ends = [*starts[1:], len(lines)]
    opening = "".join(lines[:starts[0]]) if starts else card_text
    return opening, {lines[a][len(MODEL_HEADING):].split("`", 1)[0]: "".join(lines[a:b])
                     for a, b in zip(starts, ends, strict=True)}


def section(name: str, info, row: dict, radius: int) -> str:
    """``name``'s section of the card: its template filled (``info``: the exported model's
    :class:`~gzcodec.zoo.ModelInfo`, ``row`` the validation record, ``radius`` its coder's)."""
    bundled = MODELS[name]
    template = Path(__file__).resolve().parent / bundled.template
    val = sorted(row["val"], key=lambda v: v["position"])
    status = SNAPSHOT[run_complete(info.training)]
    fields = {
        "PROGRESS_NOTE": status["PROGRESS_NOTE"], "PROGRESS": status["PROGRESS"],
        "ID": info.id, "SIZE": f"{info.size_bytes / 1e6:.2f}", "STEPS": f"{info.training['steps']:,}",
        "CPUH": f"{info.training['cpu_hours']:.2f}", "VALSTEP": f"{row['step']:,}",
        "VALTABLE": val_table(row, len(info.config["level_lambdas"])),
        "PARAMS": parameter_counts(info.path),
        "LEVELS": str(len(info.config["level_lambdas"])),
        "LAMBDAS": " … ".join(f"{lam:.2g}" for lam in (info.config["level_lambdas"][0],
                                                          info.config["level_lambdas"][-1])),
        "LOW": f"{round(val[0]['bytes'] + HEADER_BYTES, -1):.0f}",
        "HIGH": f"{round(val[-1]['bytes'] + HEADER_BYTES, -1):.0f}",
        "RADIUS": str(radius),
    }
    text = template.read_text()
    for key, value in fields.items():
        text = text.replace("{" + key + "}", value)
    if "{" in text.replace("{}", ""):
        leftover = text[text.index("{"):text.index("{") + 20]
        raise SystemExit(f"error: {template} has a field this script does not fill: {leftover!r}")
    heading, rest = text.split("\n", 1)
    if not heading.startswith(f"{MODEL_HEADING}{name}`"):
        raise SystemExit(f"error: {template} must start with the heading {MODEL_HEADING}{name}`")
    note = (f"<!-- Written by scripts/export_default_model.py from scripts/{bundled.template}: "
            "edit the template and rerun the script, not this. -->")
    return f"{heading}\n{note}\n{rest}"


def card(card_text: str, name: str, new_section: str) -> str:
    """The whole card with ``name``'s section replaced (or, new, put first)."""
    opening, kept = sections(card_text)
    ordered = dict(kept) if name in kept else {name: "", **kept}
    ordered[name] = new_section
    return opening + "\n\n".join(text.rstrip("\n") for text in ordered.values()) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a training checkpoint (.safetensors)")
    parser.add_argument("--model", choices=sorted(MODELS), default="face128-v2",
                        help="the bundled model it becomes (default: face128-v2)")
    parser.add_argument("--log", type=Path, default=None,
                        help="the run's log.jsonl (default: beside the checkpoint, else the "
                             "model's run folder's)")
    parser.add_argument("--table-radius", type=int, default=None,
                        help="the coding window of its tables (default: the model's, in MODELS)")
    parser.add_argument("--force", action="store_true",
                        help="replace the bundled file (files of the old snapshot stop decoding)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))  # this checkout's gzcodec, whatever is installed
    from safetensors import safe_open

    from gzcodec.train import export_model
    from gzcodec.zoo import load_model
    from gzcodec.zoo.weights_file import read_model_info

    name, bundled = args.model, MODELS[args.model]
    weights = WEIGHTS_DIR / f"{name}.safetensors"
    log = args.log or next((p for p in (args.checkpoint.parent / "log.jsonl",
                                        ROOT / bundled.run / "log.jsonl") if p.is_file()),
                           ROOT / bundled.run / "log.jsonl")
    # Everything is checked before anything is written.
    card_text = CARD.read_text() if CARD.is_file() else ""
    with safe_open(str(args.checkpoint), framework="pt") as f:
        meta = f.metadata() or {}
    step = int(meta.get("step", -1))
    if step < 0:
        raise SystemExit(f"error: {args.checkpoint} is not a training checkpoint (no step)")
    row = val_row(log, step)
    if weights.exists() and not args.force:
        raise SystemExit(f"error: {_shown(weights)} exists; --force replaces it (.gzl "
                         "files made with it will no longer decode)")

    levels = len(json.loads(meta["config"])["level_lambdas"])
    status = SNAPSHOT[run_complete({"steps": step, "options": json.loads(meta["options"])})]
    model_id = export_model(args.checkpoint, weights, name=name,
                            description=bundled.description.format(
                                levels=levels, snapshot=status["description"]),
                            training={**TRAINING, "snapshot": status["snapshot"].format(
                                run=bundled.run)},
                            force=args.force, table_radius=args.table_radius or bundled.table_radius)
    info = read_model_info(weights)
    assert info.id == model_id and info.training["steps"] == step
    radius = load_model(str(weights)).entropy.radius
    CARD.write_text(card(card_text, name, section(name, info, row, radius)))
    print(f"{_shown(weights)}: {name}, id {model_id}, {info.size_bytes / 1e6:.2f} MB, "
          f"step {step:,}, {info.training['cpu_hours']:.2f} CPU-hours, table radius {radius}")
    print(f"{_shown(CARD)}: {name}'s section, validation at step {row['step']:,} from {log}")


if __name__ == "__main__":
    main()

"""Export a face-v2 training checkpoint as the bundled default model, ``face128-v2``, with its card.

One command, rerun on every newer snapshot of the training run (from the repository root)::

    python scripts/export_default_model.py results/training-face-v2/checkpoint.safetensors --force

It writes

* ``gzcodec/zoo/weights/face128-v2.safetensors``: float16 weights named ``face128-v2``, with the
  step count and CPU-hours read from the checkpoint (``gzcodec.train.export_model``) and the
  data it was trained on in the file's metadata;
* the ``face128-v2`` section of ``gzcodec/zoo/weights/MODEL_CARD.md``, from the template
  ``scripts/model_card_v2.md``: id, file size, steps, CPU-hours and the last validation row of
  the run's ``log.jsonl`` at or before the checkpoint's step (the ``log.jsonl`` beside the
  checkpoint, else ``--log``). Everything from the ``face128`` heading down is kept as it is.

These two files are the only places that name the snapshot (its id, steps, CPU-hours); the
README points to the card. Replacing the weights changes the model id, so ``.gzl`` files made
with the previous snapshot no longer decode: an existing file is replaced only with
``--force``. Exporting the same checkpoint again writes the same bytes (the same id).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "gzcodec" / "zoo" / "weights" / "face128-v2.safetensors"
CARD = ROOT / "gzcodec" / "zoo" / "weights" / "MODEL_CARD.md"
TEMPLATE = Path(__file__).resolve().parent / "model_card_v2.md"
DEFAULT_LOG = ROOT / "results" / "training-face-v2" / "log.jsonl"
#: The first line of the card's ``face128`` section: it and everything below are kept.
FACE128_HEADING = "# `face128`"
NAME = "face128-v2"
DESCRIPTION = ("Faces, 128x128 RGB. v2 context model: encoder + generator over a 96x8x8 latent, "
               "mean-scale hyperprior with position context, continuous rate 0..255 over "
               "{levels} trained levels. {snapshot} Trained on CelebA "
               "(non-commercial research only).")
TRAINING = {"data": "CelebA 128x128 copy, train/ (21,371 images)",
            "machine": "2-core CPU, 1-2 torch threads"}
#: How the card and the file's metadata describe the snapshot: interim while the run has
#: steps left in its plan, complete once its learning rate has decayed to the end.
SNAPSHOT = {
    False: {"description": "Interim snapshot of a run still training.",
            "snapshot": "interim: the run goes on (results/training-face-v2/)",
            "PROGRESS": "so far (run still in progress: this is a snapshot)",
            "PROGRESS_NOTE": "Training goes on"},
    True: {"description": "The end of its run (learning rate decayed).",
           "snapshot": "the end of the run: its learning rate decayed to the last planned step "
                       "(results/training-face-v2/)",
           "PROGRESS": "(the whole run: its learning rate decayed to the last planned step)",
           "PROGRESS_NOTE": "The run is complete"},
}
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


def parameter_counts() -> str:
    """The bundled model's parameters, in all and per part (counted, never copied by hand)."""
    from gzcodec.zoo import load_model

    network = load_model(str(WEIGHTS)).network
    total = sum(p.numel() for p in network.parameters())
    parts = {"encoder": network.encoder, "generator": network.generator,
             "entropy model": network.prior}
    counted = "; ".join(f"{name} {sum(p.numel() for p in part.parameters()):,}"
                        for name, part in parts.items())
    return f"{total:,} ({counted}; the per-level gains the rest)"


def run_complete(training: dict) -> bool:
    """Whether the checkpoint is at the end of its planned run (its decay finished)."""
    return training["steps"] >= training["options"]["steps"]


def card(info, row: dict, kept: str) -> str:
    """The whole model card: the filled template (``info``: the exported model's
    :class:`~gzcodec.zoo.ModelInfo`), then the kept ``face128`` section."""
    val = sorted(row["val"], key=lambda v: v["position"])
    status = SNAPSHOT[run_complete(info.training)]
    fields = {
        "PROGRESS_NOTE": status["PROGRESS_NOTE"], "PROGRESS": status["PROGRESS"],
        "ID": info.id, "SIZE": f"{info.size_bytes / 1e6:.2f}", "STEPS": f"{info.training['steps']:,}",
        "CPUH": f"{info.training['cpu_hours']:.2f}", "VALSTEP": f"{row['step']:,}",
        "VALTABLE": val_table(row, len(info.config["level_lambdas"])),
        "PARAMS": parameter_counts(),
        "LEVELS": str(len(info.config["level_lambdas"])),
        "LAMBDAS": " … ".join(f"{lam:.2g}" for lam in (info.config["level_lambdas"][0],
                                                          info.config["level_lambdas"][-1])),
        "LOW": f"{round(val[0]['bytes'] + HEADER_BYTES, -1):.0f}",
        "HIGH": f"{round(val[-1]['bytes'] + HEADER_BYTES, -1):.0f}",
    }
    text = TEMPLATE.read_text()
    for key, value in fields.items():
        text = text.replace("{" + key + "}", value)
    if "{" in text.replace("{}", ""):
        leftover = text[text.index("{"):text.index("{") + 20]
        raise SystemExit(f"error: {TEMPLATE} has a field this script does not fill: {leftover!r}")
    note = ("<!-- The face128-v2 section is written by scripts/export_default_model.py from "
            "scripts/model_card_v2.md:\n     edit the template and rerun the script, not this. -->\n")
    return note + text.rstrip("\n") + "\n\n" + kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a face-v2 training checkpoint (.safetensors)")
    parser.add_argument("--log", type=Path, default=None,
                        help="the run's log.jsonl (default: beside the checkpoint, else "
                             "results/training-face-v2/log.jsonl)")
    parser.add_argument("--force", action="store_true",
                        help="replace the bundled face128-v2 (files of the old snapshot stop decoding)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))  # this checkout's gzcodec, whatever is installed
    from safetensors import safe_open

    from gzcodec.train import export_model
    from gzcodec.zoo.weights_file import read_model_info

    log = args.log or next((p for p in (args.checkpoint.parent / "log.jsonl", DEFAULT_LOG)
                            if p.is_file()), DEFAULT_LOG)
    # Everything is checked before anything is written.
    lines = CARD.read_text().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(FACE128_HEADING)), None)
    if start is None:
        raise SystemExit(f"error: {CARD} has no line starting {FACE128_HEADING!r} to keep")
    with safe_open(str(args.checkpoint), framework="pt") as f:
        meta = f.metadata() or {}
    step = int(meta.get("step", -1))
    if step < 0:
        raise SystemExit(f"error: {args.checkpoint} is not a training checkpoint (no step)")
    row = val_row(log, step)
    if WEIGHTS.exists() and not args.force:
        raise SystemExit(f"error: {_shown(WEIGHTS)} exists; --force replaces it (.gzl "
                         "files made with it will no longer decode)")

    levels = len(json.loads(meta["config"])["level_lambdas"])
    status = SNAPSHOT[run_complete({"steps": step, "options": json.loads(meta["options"])})]
    model_id = export_model(args.checkpoint, WEIGHTS, name=NAME,
                            description=DESCRIPTION.format(levels=levels,
                                                           snapshot=status["description"]),
                            training={**TRAINING, "snapshot": status["snapshot"]},
                            force=args.force)
    info = read_model_info(WEIGHTS)
    assert info.id == model_id and info.training["steps"] == step
    CARD.write_text(card(info, row, "".join(lines[start:])))
    print(f"{_shown(WEIGHTS)}: {NAME}, id {model_id}, {info.size_bytes / 1e6:.2f} MB, "
          f"step {step:,}, {info.training['cpu_hours']:.2f} CPU-hours")
    print(f"{_shown(CARD)}: validation at step {row['step']:,} from {log}")


if __name__ == "__main__":
    main()

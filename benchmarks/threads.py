"""Decode and encode latency on 1 torch thread vs torch's default, idle and under load.

Run from the repository root, niced like every benchmark on a shared machine::

    nice -n 19 python benchmarks/threads.py --out results/threads

"Under load" means a second process keeps every core busy with its own torch
matrix products (torch's default threads), as another job on a server would.
It is started at the same niceness as this script, so that both compete on
equal terms. Each measurement runs in a fresh child process (torch fixes its
thread pool at the first parallel region), and the figure reported is the
median over repetitions. Ratios > 1 mean one thread is faster.

Writes ``threads.json`` and ``threads.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, statistics, sys, time
import numpy as np, torch
from PIL import Image
threads = int(sys.argv[1]); what = sys.argv[2]; reps = int(sys.argv[3])
if threads:
    torch.set_num_threads(threads)
import gzcodec
from gzcodec import threads as policy
policy.set_threads(0)  # measure torch exactly as set above: no gzcodec policy on top
face = Image.open("examples/face.png").convert("RGB")
model = gzcodec.load_model("face128")  # the model of results/threads (the default until face128-v2)
times = []
if what == "decode":
    data = gzcodec.encode(face, bits=4, steps=0, model=model)
    gzcodec.decode(data)  # warm-up
    for _ in range(reps):
        t = time.perf_counter(); gzcodec.decode(data); times.append(time.perf_counter() - t)
else:
    rng = np.random.default_rng(0)
    faces = [face.rotate(float(a)) for a in rng.uniform(-10, 10, 8)]
    gzcodec.encode_batch(faces[:2], bits=4, steps=1, model=model)  # warm-up
    for _ in range(reps):
        t = time.perf_counter(); gzcodec.encode_batch(faces, bits=4, model=model)
        times.append(time.perf_counter() - t)
print(json.dumps({"threads": torch.get_num_threads(), "median_s": statistics.median(times),
                  "min_s": min(times), "times_s": times}))
"""

_LOAD = r"""
import torch, time
a = torch.randn(512, 512)
end = time.time() + float(__import__("sys").argv[1])
while time.time() < end:
    a = torch.tanh(a @ a)
"""


def _measure(threads: int, what: str, reps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GZCODEC_THREADS", None)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(threads), what, str(reps)], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _busy_processes() -> list[str]:
    """The busiest processes when the run starts (this machine is shared): %CPU, nice, name."""
    try:
        out = subprocess.run(["ps", "-eo", "pcpu,ni,comm", "--sort=-pcpu"], capture_output=True,
                             text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return []
    return [" ".join(line.split()) for line in out[1:6]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "threads")
    parser.add_argument("--decode-reps", type=int, default=30)
    parser.add_argument("--encode-reps", type=int, default=2)
    args = parser.parse_args()

    busy, started_load = _busy_processes(), _loadavg()
    rows, started = [], time.time()
    for condition in ("idle", "load"):
        load = None
        if condition == "load":
            load = subprocess.Popen([sys.executable, "-c", _LOAD, "600"])
            time.sleep(2)
        try:
            for what, reps in (("decode", args.decode_reps), ("encode", args.encode_reps)):
                before = _loadavg()
                one, default = _measure(1, what, reps), _measure(0, what, reps)
                rows.append({"condition": condition, "what": what, "loadavg_before": before,
                             "one_thread": one, "default": default,
                             "ratio_default_over_one": default["median_s"] / one["median_s"]})
                print(f"{condition:4} {what:6} 1 thread {one['median_s'] * 1e3:8.1f} ms   "
                      f"default ({default['threads']}) {default['median_s'] * 1e3:8.1f} ms   "
                      f"ratio {rows[-1]['ratio_default_over_one']:.2f}", flush=True)
        finally:
            if load is not None:
                load.kill()
                load.wait()
    result = {
        "command": "nice -n 19 python benchmarks/threads.py " + shlex.join(sys.argv[1:]),
        "machine": {"cpus": multiprocessing.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "nice": os.nice(0)},
        "wall_s": round(time.time() - started, 1),
        "loadavg_at_start": started_load,
        "busiest_processes_at_start": busy,
        "decode": "one 128x128 face (bits 4), median of the repetitions",
        "encode": "a batch of 8 faces, bits 4, default refinement steps",
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "threads.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Threads: 1 vs torch's default ({rows[0]['default']['threads']})", "",
             f"`{result['command']}` ({result['wall_s']} s, {result['machine']['cpus']} CPUs)", "",
             "'idle' means no load of our own; the machine is shared, so other jobs may run "
             "(load average and busiest processes at start: "
             f"{started_load}; {'; '.join(busy) or 'n/a'}).", "",
             "| condition | work | 1 thread (ms) | default (ms) | default / 1 thread | load avg before |",
             "|---|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['condition']} | {r['what']} | {r['one_thread']['median_s'] * 1e3:.1f} | "
                     f"{r['default']['median_s'] * 1e3:.1f} | {r['ratio_default_over_one']:.2f} | "
                     f"{r['loadavg_before']} |")
    (args.out / "threads.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

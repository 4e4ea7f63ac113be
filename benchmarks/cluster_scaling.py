"""Images per second of the Ray path on 1 and 2 workers, against the plain local encoder.

Run from the repository root on an otherwise idle machine (the figures are
meaningless beside another job), niced like every benchmark here::

    nice -n 19 python benchmarks/cluster_scaling.py --n 200 --out results/cluster-scaling

In one run, on the same first ``--n`` images (sorted) of ``--src``, default
``../shared/data/celeba128/val``, with the default settings (the default model,
``face128-v2``, at its default ``--bits 5`` and ``--effort fast``; ``--model``,
``--bits`` and ``--effort`` choose others, e.g. ``--model face128`` for its
encoder's guess alone; the committed v2 figures were measured at ``--bits 4``,
the default then):

* ``local``: the plain local encoder, ``gzcodec encode SRC -o OUT/ -q
  --threads 1``, in a fresh process (its start, torch's import and the model's
  load included, as a user sees it);
* ``ray-1`` and ``ray-2``: :func:`gzcodec.cluster.encode_dataset` with 1 and 2
  workers of 1 CPU on a local Ray cluster of ``os.cpu_count()`` CPUs, started
  once beforehand (a cluster exists before a job; its start is reported
  apart). Each job's own costs (workers' start, torch's import, the model's
  load, Ray Data's scheduling) are included.

Every measurement writes into a new empty folder; the order of the three is
rotated over ``--repeat`` rounds and the median wall time is reported. The
images are read once first, so that none of them pays for a cold disk cache.
It checks that the three make the same bytes. Reports images/s, the ratio
``ray-2 / ray-1`` (target >= 1.7 on 2 cores) and the overhead of ``ray-1``
over ``local`` (target <= 15 %). Writes ``scaling.json`` and ``scaling.md`` to
``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "celeba128" / "val"


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _options_cli(model: str | None, effort: str | None, bits: int | None = None) -> list[str]:
    return [*(["--model", model] if model else []), *(["--bits", str(bits)] if bits else []),
            *(["--effort", effort] if effort else [])]


def _local(src: Path, out: Path, model: str | None, effort: str | None, bits: int | None
           ) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GZCODEC_THREADS", None)
    command = [sys.executable, "-c", "import sys; from gzcodec.cli import main; main()",
               "encode", str(src), "-o", f"{out}/", "-q", "--threads", "1",
               *_options_cli(model, effort, bits)]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def _ray(src: Path, out: Path, workers: int, model: str | None, effort: str | None,
         bits: int | None) -> float:
    from gzcodec.cluster import encode_dataset

    start = time.perf_counter()
    report = encode_dataset(src, out, workers=workers, cpus_per_worker=1, progress=False,
                            model=model, effort=effort, bits=bits)
    elapsed = time.perf_counter() - start
    if not report.ok or report.written != len(report.rows):
        raise SystemExit(f"ray-{workers}: {report.failed} images failed; see {report.manifest}")
    return elapsed


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.gzl"))}


def _steady(folder: Path) -> float:
    """Images/s between the first output written and the last (each job's start left out)."""
    stamps = sorted(p.stat().st_mtime_ns for p in folder.glob("*.gzl"))
    return (len(stamps) - 1) / max((stamps[-1] - stamps[0]) / 1e9, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder of images")
    parser.add_argument("--n", type=int, default=200, help="the first N images (sorted)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "cluster-scaling")
    parser.add_argument("--model", help="model name, id or path (default: the default model)")
    parser.add_argument("--effort", help="v2 models: none, fast or archive (default: fast)")
    parser.add_argument("--bits", type=int, help="quality 2..8 (default: the model's)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)  # Ray's workers too
    os.environ.pop("GZCODEC_THREADS", None)
    from gzcodec.imageio import list_images

    images = list_images(args.src)[:args.n]
    if len(images) < args.n:
        raise SystemExit(f"{args.src} has {len(images)} images, fewer than --n {args.n}")
    work = Path(tempfile.mkdtemp(prefix="gzcodec-scaling-"))
    src = work / "src"
    src.mkdir()
    for image in images:  # the same N files for all three, read once (warm cache)
        shutil.copy(image, src / image.name)

    import ray

    load_before = _loadavg()
    start = time.perf_counter()
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             logging_level="WARNING")
    cluster_start_s = time.perf_counter() - start
    model, effort, bits = args.model, args.effort, args.bits
    runs = {"local": lambda out: _local(src, out, model, effort, bits),
            "ray-1": lambda out: _ray(src, out, 1, model, effort, bits),
            "ray-2": lambda out: _ray(src, out, 2, model, effort, bits)}
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    steady: dict[str, list[float]] = {name: [] for name in names}
    outputs: dict[str, dict[str, bytes]] = {}
    try:
        for round_ in range(args.repeat):
            order = names[round_ % len(names):] + names[:round_ % len(names)]
            for name in order:
                out = work / f"{name}-{round_}"
                times[name].append(runs[name](out))
                outputs.setdefault(name, _files(out))
                steady[name].append(_steady(out))
                shutil.rmtree(out)
                print(f"round {round_ + 1}: {name} {times[name][-1]:.2f} s", flush=True)
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    load_after = _loadavg()

    median = {name: statistics.median(t) for name, t in times.items()}
    per_second = {name: args.n / s for name, s in median.items()}
    results = {
        "command": shlex.join(["python", *sys.argv]),
        "n_images": args.n,
        "src": str(args.src),
        "repeat": args.repeat,
        "settings": (" ".join(_options_cli(model, effort, bits)) or "default model and settings")
        + "; 1 torch thread per worker / for local",
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ray": ray.__version__,
        "torch": __import__("torch").__version__,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "ray_cluster_start_s": round(cluster_start_s, 2),
        "wall_s": {name: [round(t, 3) for t in ts] for name, ts in times.items()},
        "median_s": {name: round(s, 3) for name, s in median.items()},
        "images_per_s": {name: round(v, 3) for name, v in per_second.items()},
        "steady_images_per_s": {name: round(statistics.median(v), 3) for name, v in steady.items()},
        "ratio_ray2_over_ray1": round(per_second["ray-2"] / per_second["ray-1"], 3),
        "overhead_ray1_over_local": round(median["ray-1"] / median["local"] - 1, 4),
        "same_bytes": outputs["local"] == outputs["ray-1"] == outputs["ray-2"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "scaling.md").write_text(_report(results))
    print(_report(results))


def _report(r: dict) -> str:
    ratio, overhead = r["ratio_ray2_over_ray1"], r["overhead_ray1_over_local"]
    rows = "\n".join(f"| {name} | {r['median_s'][name]:.2f} | {r['images_per_s'][name]:.2f} | "
                     f"{r['steady_images_per_s'][name]:.2f} |" for name in r["median_s"])
    return f"""# Ray cluster scaling

`{r['command']}`

{r['n_images']} images of `{r['src']}`, {r['settings']}; {r['cpu_count']} CPUs, {r['platform']},
Python {r['python']}, Ray {r['ray']}, torch {r['torch']}; load average before
{r['loadavg_before']}, after {r['loadavg_after']}. Median of {r['repeat']} rounds (order rotated);
each job's start (workers, torch import, model load) included, the local Ray cluster's own
start ({r['ray_cluster_start_s']} s) not.

| run | wall s | images/s | images/s from the first file to the last |
|---|---:|---:|---:|
{rows}

- 2 workers / 1 worker: **x{ratio:.2f}** (target >= 1.7)
- Ray with 1 worker over the local encoder: **{overhead:+.1%}** (target <= +15 %)
- same bytes from all three: {r['same_bytes']}
"""


if __name__ == "__main__":
    main()

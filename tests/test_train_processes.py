"""Training on several processes (gloo, CPU): ``--nproc``, torchrun, resume, averaged gradients.

Each test that starts processes pays for their start (~5-10 s: every process
imports torch), so they are few, tiny, uncompiled and marked slow.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import gzcodec
from gzcodec.cli import app
from gzcodec.distributed import ProcessGroup, free_port, joined_group, sync_replicas
from gzcodec.models.context_model import ContextModel, ContextModelConfig
from gzcodec.threads import torch_threads
from gzcodec.train import (
    TrainOptions,
    checkpoint_options,
    draw_batch,
    load_checkpoint,
    load_images,
    make_optimizer,
    noise_seed,
    train,
    train_step,
)

from .test_train import TINY, _images

runner = CliRunner()
CKPT = "checkpoint.safetensors"
CONFIG = ContextModelConfig(image_size=32, channels=8, latent_channels=8, slices=(4, 4),
                            context_hidden=8, position_channels=2, hyper_channels=0)
BATCH4 = [*TINY[:TINY.index("--batch-size")], "--batch-size", "4",
          *TINY[TINY.index("--batch-size") + 2:]]


def _step_of(run: Path) -> int:
    _, _, meta = load_checkpoint(run / CKPT)
    return int(meta["step"])


@pytest.mark.slow
def test_two_processes_train_and_resume_on_torchrun_and_on_one(tmp_path):
    data = _images(tmp_path / "data")
    run = tmp_path / "run"
    # Out of time at once: every process stops, and rank 0 writes the checkpoint.
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "50", "--nproc",
                                 "2", "--max-minutes", "0", "--val-every", "2", *BATCH4])
    assert result.exit_code == 0, result.output
    assert "2 processes x 1 threads, each on 2 of every 4 images" in result.output
    assert _step_of(run) == 0 and "interrupted" not in result.output

    # torchrun runs the command line once per process; rank 0 alone reports and validates.
    tree = str(Path(gzcodec.__file__).resolve().parents[1])  # the gzcodec under test
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tree, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "gzcodec.cli", "train", str(data), "--out", str(run), "--steps", "2", "--resume",
         "--val", str(data), *BATCH4],
        env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.count("resuming from step 0") == 1 and done.stdout.count("checkpoint:") == 1
    assert _step_of(run) == 2 and (run / "samples.png").exists()
    assert [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()] == [2]

    # The checkpoint of two processes resumes on one, and nothing drifted apart.
    result = runner.invoke(app, ["train", str(data), "--out", str(run), "--steps", "3", "--resume",
                                 *BATCH4])
    assert result.exit_code == 0 and "resuming from step 2" in result.output, result.output
    assert _step_of(run) == 3
    assert "drifted" not in result.output + done.stderr


@pytest.mark.slow
def test_the_gradients_of_two_processes_are_averaged(tmp_path):
    """One step of 2 processes x 2 images = one step of 1 process x the same 4 images.

    Both resume the same one-process checkpoint, in float32, uncompiled; the
    reference replays the step here with each half's quantisation noise drawn
    from the seed its process used.
    """
    data = _images(tmp_path / "data")
    one = tmp_path / "one"
    train(data, one, config=CONFIG, log=lambda line: None,
          options=TrainOptions(steps=1, batch_size=4, lr=1e-3, warmup=0, autocast=False,
                               threads=1, compile=False))
    two = tmp_path / "two"
    shutil.copytree(one, two)
    more = TrainOptions(steps=2, threads=1, compile=False)
    lines: list[str] = []
    train(data, two, options=more, resume=True, nproc=2, log=lines.append)
    assert "resuming from step 1 (0.00 CPU-hours so far)" in lines and _step_of(two) == 2

    model, tensors, meta = load_checkpoint(one / CKPT)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opts = checkpoint_options(meta, options=more)
    model = model.to(memory_format=torch.channels_last)
    optim = make_optimizer(model, opts.lr, checkpoint_tensors=tensors,
                           adam_step=int(meta["adam_step"]))
    images = load_images(data, 32, log=print)

    def forward(x, position, *, autocast):
        parts = []
        for rank in (0, 1):
            torch.manual_seed(noise_seed(opts.seed, 1, rank))
            parts.append(model(x[2 * rank:2 * rank + 2], position[2 * rank:2 * rank + 2],
                               autocast=autocast))
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    with torch_threads(1):
        x, position = draw_batch(images, opts, 1, model.config.levels)
        train_step(forward, model, optim, x, position, opts, 1)
    after, _, _ = load_checkpoint(two / CKPT)
    for name, value in after.state_dict().items():
        expected = model.state_dict()[name]
        # Adam moves every weight by ~lr = 1e-3; a process on its own half differs by ~1e-4.
        assert (value - before[name]).abs().max() > 1e-5, name
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-6, msg=name)


@pytest.mark.slow
def test_a_signal_to_one_process_stops_both_at_one_step_with_a_checkpoint(tmp_path):
    data = _images(tmp_path / "data", n=4)
    run = tmp_path / "run"
    options = TrainOptions(steps=10_000, batch_size=2, threads=1, compile=False)

    others = {p.pid for p in multiprocessing.active_children()}

    def on_step(step: int, last: int) -> None:
        if step == 3:  # to one of the two processes only (this one's new children)
            ours = {p.pid for p in multiprocessing.active_children()} - others
            assert len(ours) == 2
            os.kill(max(ours), signal.SIGTERM)

    lines: list[str] = []
    train(data, run, config=CONFIG, options=options, nproc=2, log=lines.append, on_step=on_step)
    stopped = _step_of(run)
    assert 3 <= stopped < 10_000
    assert f"interrupted: checkpoint at step {stopped} saved; continue with --resume" in lines


_ORPHANING_PARENT = """
import json, multiprocessing, sys, time
from gzcodec.models.context_model import ContextModelConfig
from gzcodec.train import TrainOptions, train

def on_step(step, last):
    if step == 3:
        pids = [p.pid for p in multiprocessing.active_children()]
        with open(sys.argv[3], "w") as f:
            json.dump(pids, f)
        time.sleep(600)  # killed here, while its processes train

if __name__ == "__main__":
    config = ContextModelConfig(**json.loads(sys.argv[4]))
    train(sys.argv[1], sys.argv[2], config=config, nproc=2, log=lambda line: None,
          on_step=on_step, options=TrainOptions(steps=10_000, batch_size=2, threads=1,
                                                compile=False, checkpoint_minutes=60,
                                                log_every=1))
"""


def _wchan(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_processes_whose_parent_is_killed_stop_with_a_checkpoint(tmp_path):
    data = _images(tmp_path / "data", n=4)
    script, pids_file = tmp_path / "parent.py", tmp_path / "pids.json"
    script.write_text(_ORPHANING_PARENT)
    config = json.dumps({k: v for k, v in CONFIG.to_dict().items()})
    parent = subprocess.Popen([sys.executable, str(script), str(data), str(tmp_path / "run"),
                               str(pids_file), config], cwd=Path(gzcodec.__file__).parent.parent)
    try:
        deadline = time.monotonic() + 120
        while not pids_file.exists() or not pids_file.read_text():
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        pids = json.loads(pids_file.read_text())
        assert len(pids) == 2
        # The parent reads nothing now: wait until the pipe home is full and blocks rank 0.
        while not any("pipe_write" in _wchan(pid) for pid in pids):
            assert time.monotonic() < deadline + 120, "the pipe never filled up"
            time.sleep(0.5)
    finally:
        parent.kill()  # SIGKILL: nothing is passed on
        parent.wait()
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)
    # They stopped as a signal stops them: at one step, with a checkpoint.
    assert _step_of(tmp_path / "run") >= 3


@pytest.mark.slow
def test_a_failing_callback_here_stops_the_processes_with_a_checkpoint(tmp_path):
    data = _images(tmp_path / "data", n=4)
    run = tmp_path / "run"
    options = TrainOptions(steps=10_000, batch_size=2, threads=1, compile=False, log_every=1)

    def on_step(step: int, last: int) -> None:
        if step == 3:
            raise OSError("the progress bar's terminal went away")

    others = {p.pid for p in multiprocessing.active_children()}
    with pytest.raises(OSError, match="terminal"):
        train(data, run, config=CONFIG, options=options, nproc=2, log=lambda line: None,
              on_step=on_step)
    assert 3 <= _step_of(run) < 10_000
    assert {p.pid for p in multiprocessing.active_children()} <= others


def _drift_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    with joined_group() as group:
        torch.manual_seed(rank)  # different weights in each process
        model = ContextModel(CONFIG)
        drift = sync_replicas(model, group)
        torch.save({"drift": drift, "state": model.state_dict()}, Path(out) / f"{rank}.pt")


@pytest.mark.slow
def test_weights_that_drifted_apart_are_brought_back_to_rank_0s(tmp_path):
    torch.multiprocessing.start_processes(_drift_worker, args=(free_port(), str(tmp_path)),
                                          nprocs=2, start_method="spawn")
    zero, one = (torch.load(tmp_path / f"{r}.pt") for r in (0, 1))
    assert zero["drift"] == one["drift"] > 0
    for name, value in zero["state"].items():
        assert torch.equal(value, one["state"][name]), name


def test_the_batch_must_split_evenly_over_the_processes(tmp_path):
    data = _images(tmp_path / "data", n=2)
    result = runner.invoke(app, ["train", str(data), "--out", str(tmp_path / "run"), "--steps", "1",
                                 "--nproc", "3", *BATCH4])
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "multiple of the number of processes" in result.output
    assert not (tmp_path / "run").exists()


def test_nproc_is_refused_under_torchrun(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="torchrun"):
        train(tmp_path, tmp_path / "run", nproc=2)


def test_one_process_is_alone(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setenv("RANK", "3")  # ignored without a WORLD_SIZE above 1
    with joined_group() as group:
        assert group == ProcessGroup() and group.lead and group.sum([1.5]) == [1.5]
    assert not torch.distributed.is_initialized()

"""Writes and batches: atomic files, no overwriting without --force, resumable folder encodes.

* every output goes to a hidden temporary file in the target folder, then is
  renamed (or hard-linked, without ``--force``) into place;
* an interrupted folder encode (Ctrl-C, SIGTERM, SIGKILL) leaves only complete
  ``.gzl`` files and, run again, encodes only what is missing;
* one failing image is reported and the others are still written, with exit
  code 1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import gzcodec
from gzcodec import codec, fileio
from gzcodec.cli import app
from gzcodec.container import unpack
from gzcodec.errors import OutputExistsError
from gzcodec.fileio import write_atomic

from .conftest import FACE128

runner = CliRunner()
BATCH = 16  # the CLI encodes folders in batches of 16


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def _images(folder: Path, n: int, *, bad: tuple[int, ...] = ()) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    paths = []
    for i in range(n):
        path = folder / f"img{i:02d}.png"
        if i in bad:
            path.write_bytes(b"\x89PNG\r\n\x1a\n but then nothing")
        else:
            Image.fromarray(rng.integers(0, 255, (24, 24, 3), np.uint8)).save(path)
        paths.append(path)
    return paths


def _complete(folder: Path) -> dict[str, bytes]:
    """Every .gzl in ``folder``, each checked to be a complete, valid file."""
    out = {}
    for path in sorted(folder.glob("*.gzl")):
        data = path.read_bytes()
        unpack(data)  # raises on a partial file
        out[path.name] = data
    return out


# --------------------------------------------------------------------------- write_atomic


def test_write_creates_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "out.gzl"
    assert write_atomic(target, b"data") == target
    assert target.read_bytes() == b"data"
    assert _leftovers(target.parent) == []


def test_existing_file_is_kept_unless_forced(tmp_path):
    target = tmp_path / "out.gzl"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="--force"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    write_atomic(target, b"new", force=True)
    assert target.read_bytes() == b"new"
    assert _leftovers(tmp_path) == []


def test_new_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.gzl", b"x")
        write_atomic(tmp_path / "a.gzl", b"y", force=True)
    finally:
        os.umask(old)
    assert (tmp_path / "a.gzl").stat().st_mode & 0o777 == 0o644


def test_the_target_only_appears_complete(tmp_path, monkeypatch):
    target = tmp_path / "out.gzl"
    seen = []
    real_fsync = os.fsync

    def fsync(fd):
        # The data is written; the target must not exist yet, only a hidden temporary beside it.
        seen.append((target.exists(), _leftovers(tmp_path)))
        real_fsync(fd)

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    write_atomic(target, b"payload")
    assert seen[0][0] is False and len(seen[0][1]) == 1 and seen[0][1][0].startswith(".out.gzl.")
    assert target.read_bytes() == b"payload"


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_write_changes_nothing(tmp_path, monkeypatch, failure, existing):
    target = tmp_path / "out.gzl"
    if existing:
        target.write_bytes(b"old")

    def fsync(fd):
        raise failure

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    with pytest.raises(type(failure)):
        write_atomic(target, b"new", force=True)
    assert (target.read_bytes() == b"old") if existing else not target.exists()
    assert _leftovers(tmp_path) == []


def test_an_output_that_appears_meanwhile_is_not_overwritten(tmp_path, monkeypatch):
    target = tmp_path / "out.gzl"
    real_fsync = os.fsync

    def fsync(fd):
        real_fsync(fd)
        target.write_bytes(b"someone else's")

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    with pytest.raises(OutputExistsError):
        write_atomic(target, b"mine")
    assert target.read_bytes() == b"someone else's"
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- atomic_writer


def test_a_streamed_output_appears_only_when_complete(tmp_path):
    target = tmp_path / "sub" / "images.npy"
    with fileio.atomic_writer(target) as f:
        np.save(f, np.arange(6))
        f.flush()
        assert not target.exists() and len(_leftovers(target.parent)) == 1
    assert np.load(target).tolist() == list(range(6))
    assert _leftovers(target.parent) == []


@pytest.mark.parametrize("failure", [ValueError("the serializer failed"), KeyboardInterrupt()])
@pytest.mark.parametrize("existing", [False, True])
def test_an_error_mid_stream_changes_nothing(tmp_path, failure, existing):
    target = tmp_path / "out.npy"
    if existing:
        target.write_bytes(b"old")
    with pytest.raises(type(failure)), fileio.atomic_writer(target, force=True) as f:
        f.write(b"half of it")
        raise failure
    assert (target.read_bytes() == b"old") if existing else not target.exists()
    assert _leftovers(tmp_path) == []


def test_a_streamed_output_is_kept_unless_forced(tmp_path):
    target = tmp_path / "out.npy"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError), fileio.atomic_writer(target) as f:
        f.write(b"new")  # not reached: refused before the body runs
    assert target.read_bytes() == b"old" and _leftovers(tmp_path) == []


def test_stream_errors_name_the_output_or_the_bodys_own_file(tmp_path):
    target = tmp_path / "out.npy"
    with pytest.raises(OSError) as written, fileio.atomic_writer(target) as f:
        f.write(b"x")
        raise OSError(28, "No space left on device")  # as a failed write of f says it
    assert written.value.filename == str(target)
    with pytest.raises(FileNotFoundError) as read, fileio.atomic_writer(target) as f:
        f.write((tmp_path / "missing.png").read_bytes())
    assert read.value.filename == str(tmp_path / "missing.png")
    assert not target.exists() and _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- the command line


def test_decode_keeps_an_existing_output_unless_forced(tmp_path, valid_files, model):
    src = tmp_path / "x.gzl"
    src.write_bytes(valid_files["raw4"])
    (tmp_path / "x.png").write_bytes(b"keep")
    result = _run("decode", src)
    assert result.exit_code == 1 and "exists" in result.output
    assert (tmp_path / "x.png").read_bytes() == b"keep"
    assert _run("decode", src, "--force").exit_code == 0
    side = model.config.image_size
    assert Image.open(tmp_path / "x.png").size == (side, side)


def test_folder_encode_reports_a_bad_image_and_writes_the_others(tmp_path, model):
    _images(tmp_path / "in", 3, bad=(1,))
    out = tmp_path / "out"
    result = _run("encode", tmp_path / "in", "-o", out, "--steps", 0, "--bits", 3, "-q")
    assert result.exit_code == 1
    assert "img01.png" in result.output and "failed 1" in result.output
    assert "Traceback" not in result.output
    assert sorted(_complete(out)) == ["img00.gzl", "img02.gzl"]
    assert _leftovers(out) == []


def test_folder_decode_reports_a_bad_file_and_writes_the_others(tmp_path, valid_files):
    src = tmp_path / "gzl"
    src.mkdir()
    (src / "a.gzl").write_bytes(valid_files["raw4"])
    (src / "b.gzl").write_bytes(valid_files["raw4"][:-1])
    (src / "c.gzl").write_bytes(valid_files["zstd8"])
    result = _run("decode", src, "-o", tmp_path / "png")
    assert result.exit_code == 1 and "b.gzl" in result.output and "failed 1" in result.output
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["a.png", "c.png"]


def test_interrupted_folder_encode_leaves_complete_files_and_resumes(tmp_path, model, monkeypatch):
    _images(tmp_path / "in", BATCH + 2)
    out = tmp_path / "out"
    args = ("encode", tmp_path / "in", "-o", out, "--steps", 0, "--bits", 3, "-q")
    real = codec.encode_batch
    calls = []

    def interrupted_after_one_batch(*a, **k):
        calls.append(len(a[0]))  # a batch at once, or (v2 models) one image at a time
        if sum(calls) > BATCH:
            raise KeyboardInterrupt  # Ctrl-C during the second batch
        return real(*a, **k)

    monkeypatch.setattr(codec, "encode_batch", interrupted_after_one_batch)
    result = _run(*args)
    assert result.exit_code == 130 and "interrupted" in result.output
    first = _complete(out)
    assert len(first) == BATCH and _leftovers(out) == []

    monkeypatch.setattr(codec, "encode_batch", real)
    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert f"encoded 2, skipped {BATCH} existing, failed 0" in result.output
    final = _complete(out)
    assert len(final) == BATCH + 2
    assert all(final[name] == data for name, data in first.items())  # kept, not redone


_CHILD = textwrap.dedent("""
    import sys, time
    from gzcodec import codec
    from gzcodec.cli import main

    real, calls = codec.encode_batch, []

    def slow_second_batch(*a, **k):
        calls.append(len(a[0]))  # a batch at once, or (v2 models) one image at a time
        if sum(calls) > 16:
            time.sleep(600)  # stands for a long batch; the test signals us meanwhile
        return real(*a, **k)

    codec.encode_batch = slow_second_batch
    sys.argv = ["gzcodec"] + sys.argv[1:]
    main()
""")


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_folder_encode_leaves_complete_files_and_resumes(tmp_path, model, signum):
    _images(tmp_path / "in", BATCH + 1)
    out = tmp_path / "out"
    args = ["encode", str(tmp_path / "in"), "-o", str(out), "--steps", "0", "--bits", "3", "-q"]
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, *args], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(out.glob("*.gzl"))) < BATCH and child.poll() is None:
            assert time.monotonic() < deadline, "the first batch never finished"
            time.sleep(0.05)
        time.sleep(0.3)
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    if signum == signal.SIGTERM:
        assert child.returncode == 130 and "interrupted" in err and "Traceback" not in err
    else:
        assert child.returncode == -signal.SIGKILL
    first = _complete(out)
    assert len(first) == BATCH
    assert _leftovers(out) == []

    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert f"encoded 1, skipped {BATCH} existing" in result.output
    final = _complete(out)
    assert len(final) == BATCH + 1 and all(final[k] == v for k, v in first.items())


def test_api_encode_is_deterministic_for_the_cli_resume(model):
    # Resuming relies on skipping finished files, not on re-encoding them identically;
    # still, the same image and options give the same bytes.
    image = np.random.default_rng(1).integers(0, 255, (24, 24, 3), np.uint8)
    assert gzcodec.encode(image, bits=3, steps=0, model=model) == gzcodec.encode(
        image, bits=3, steps=0, model=model)


# --------------------------------------------------------------------------- issue 11: lost work


def test_force_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "private.gzl"
    target.write_bytes(b"old")
    target.chmod(0o600)
    write_atomic(target, b"new", force=True)
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o600


def test_force_writes_through_a_symlink_and_keeps_it(tmp_path):
    real = tmp_path / "store" / "real.gzl"
    real.parent.mkdir()
    real.write_bytes(b"old")
    real.chmod(0o640)
    link = tmp_path / "link.gzl"
    link.symlink_to(real)
    with pytest.raises(OutputExistsError):
        write_atomic(link, b"new")
    write_atomic(link, b"new", force=True)
    assert link.is_symlink() and real.read_bytes() == b"new"
    assert real.stat().st_mode & 0o777 == 0o640
    assert _leftovers(tmp_path) == [] and _leftovers(real.parent) == []


def test_a_dangling_symlink_is_not_replaced_without_force(tmp_path):
    link = tmp_path / "link.gzl"
    link.symlink_to(tmp_path / "nowhere.gzl")
    with pytest.raises(OutputExistsError):
        write_atomic(link, b"new")
    assert link.is_symlink() and not (tmp_path / "nowhere.gzl").exists()


@pytest.mark.parametrize("pointing_to", ["missing/folder/x.png", "x.png"])
def test_force_does_not_write_through_a_dangling_symlink(tmp_path, pointing_to):
    # As cp: "not writing through dangling symlink". It used to create the link's missing
    # folders and write there (issue 26, item 12).
    link = tmp_path / "dang.png"
    link.symlink_to(tmp_path / pointing_to)
    with pytest.raises(OSError, match="not writing through a dangling symbolic link") as caught:
        write_atomic(link, b"new", force=True)
    assert caught.value.filename == str(link)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dang.png"] and link.is_symlink()


def test_a_file_in_the_way_of_the_output_folder_is_not_a_directory(tmp_path):
    # `encode in/face.png -o in/face.png/x.gzl` said "File exists" (issue 26, item 13).
    (tmp_path / "face.png").write_bytes(b"png")
    for output in ("face.png/x.gzl", "face.png/sub/x.gzl"):
        with pytest.raises(NotADirectoryError) as caught:
            write_atomic(tmp_path / output, b"new")
        assert caught.value.filename == str(tmp_path / output)
        assert caught.value.strerror == f"{tmp_path / 'face.png'} is not a directory"
    assert (tmp_path / "face.png").read_bytes() == b"png"
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="dangling symbolic link, not a directory"):
        fileio.make_folders(tmp_path / "link" / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.png", "link"]


def _read_only(monkeypatch, folder: Path) -> None:
    """Nothing can be created in ``folder`` (root ignores chmod, so mkstemp is told so)."""
    import errno
    import tempfile

    make = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return make(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize("command", ["encode", "decode", "save"])
def test_a_read_only_output_folder_is_refused_before_any_work(tmp_path, monkeypatch, command):
    # Every image was encoded first, then every write failed (issue 26, item 14).
    sources = _images(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    if command == "decode":
        for src in sources:
            src.with_suffix(".gzl").write_bytes(b"GZL not even read")
            src.unlink()
    _read_only(monkeypatch, out)
    work = []
    monkeypatch.setattr(codec, "encode_batch", lambda *a, **k: work.append(a) or [b"x"] * len(a[0]))
    monkeypatch.setattr(codec, "decode", lambda *a, **k: work.append(a))
    if command == "save":
        with pytest.raises(PermissionError, match="no output can be written there"):
            gzcodec.save(tmp_path / "in" / "img00.png", out / "face.gzl")
    else:
        result = _run(command, tmp_path / "in", "-o", f"{out}/", "-q", "--model", FACE128)
        assert result.exit_code == 1, result.output
        assert result.output == f"error: {out}: Permission denied: no output can be written there\n"
    assert work == [] and list(out.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_a_chmod_read_only_output_folder_is_refused(tmp_path):
    _images(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        result = _run("encode", tmp_path / "in", "-o", f"{out}/", "-q")
    finally:
        out.chmod(0o755)
    assert result.exit_code == 1 and "no output can be written there" in result.output


def test_a_write_error_names_the_output_not_the_temporary_file(tmp_path, monkeypatch):
    import errno

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    with pytest.raises(OSError) as err:
        write_atomic(tmp_path / "out.gzl", b"x")
    assert err.value.filename == str(tmp_path / "out.gzl") and ".part" not in str(err.value)
    assert _leftovers(tmp_path) == []


def test_folder_encode_goes_on_past_an_unwritable_output(tmp_path, model):
    _images(tmp_path / "in", 3)
    out = tmp_path / "out"
    (out / "img01.gzl").mkdir(parents=True)  # a folder in the way of one output
    result = _run("encode", tmp_path / "in", "-o", out, "--steps", 0, "--bits", 3, "-q", "--force")
    assert result.exit_code == 1, result.output
    assert "img01" in result.output and ".part" not in result.output
    assert "encoded 2, skipped 0 existing, failed 1" in result.output
    assert sorted(p.name for p in out.glob("*.gzl") if p.is_file()) == ["img00.gzl", "img02.gzl"]
    assert _leftovers(out) == []


def test_folder_encode_goes_on_past_a_full_disk(tmp_path, model, monkeypatch):
    import errno

    _images(tmp_path / "in", 3)
    out = tmp_path / "out"
    real_fsync = os.fsync
    calls = []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    result = _run("encode", tmp_path / "in", "-o", out, "--steps", 0, "--bits", 3, "-q")
    assert result.exit_code == 1
    assert f"{out / 'img01.gzl'}: No space left on device" in result.output
    assert "encoded 2, skipped 0 existing, failed 1" in result.output
    assert sorted(_complete(out)) == ["img00.gzl", "img02.gzl"] and _leftovers(out) == []


def test_encode_never_replaces_its_own_input(tmp_path, face_gzl):
    src = tmp_path / "x.gzl"
    src.write_bytes(face_gzl)
    result = _run("encode", src, "--force", "-q", "--steps", 0)
    assert result.exit_code == 1 and result.output.startswith("error:")
    assert "is an input" in result.output and src.read_bytes() == face_gzl
    # Also through -o, and in a folder (the .gzl named there is an input too).
    result = _run("encode", src, "-o", src, "--force", "-q", "--steps", 0)
    assert result.exit_code == 1 and src.read_bytes() == face_gzl


def test_two_inputs_with_one_output_name_are_not_both_written(tmp_path, model):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 24, 3), np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 255, (24, 24, 3), np.uint8)).save(folder / "a.jpg")
    result = _run("encode", folder, "--steps", 0, "--bits", 3, "--model", FACE128, "-q", "--force")
    assert result.exit_code == 1
    assert "a.png" in result.output and "a.gzl" in result.output
    assert "encoded 1, skipped 0 existing, failed 1" in result.output
    expected = gzcodec.encode(folder / "a.jpg", bits=3, steps=0, model=model)
    assert (folder / "a.gzl").read_bytes() == expected  # the first in sorted order, only


def test_a_file_named_twice_is_listed_once(tmp_path, monkeypatch):
    from gzcodec.cluster import list_sources
    from gzcodec.imageio import IMAGE_SUFFIXES

    paths = _images(tmp_path / "in", 2)
    monkeypatch.chdir(tmp_path)
    named = ["in/img01.png", "in", "./in/img01.png", "in/"]
    files, folder_named = fileio.list_inputs(named, suffixes=IMAGE_SUFFIXES)
    assert folder_named and files == [Path("in/img01.png"), Path("in/img00.png")]
    # The cluster lists local sources alike (it reads URIs itself).
    assert list_sources(named) == ["in/img01.png", "in/img00.png"]
    assert fileio.list_inputs([paths[0], paths[0]], suffixes=IMAGE_SUFFIXES) == ([paths[0]], False)
    with pytest.raises(gzcodec.GzcodecError, match="no such file or folder"):
        fileio.list_inputs([tmp_path / "nowhere"], suffixes=IMAGE_SUFFIXES)


def test_a_folder_gives_every_image_pillow_opens_and_says_what_it_skipped(tmp_path):
    # a.avif and c.jfif and a dangling link were dropped without a word (issue 26, item 11).
    from gzcodec.imageio import image_suffixes

    folder = tmp_path / "in"
    folder.mkdir()
    face = Image.open(Path(__file__).parent.parent / "examples" / "face.png").convert("RGB")
    face.save(folder / "a.avif")
    face.save(folder / "b.PNG", format="PNG")
    face.save(folder / "c.jfif", format="JPEG")
    (folder / "d.png").symlink_to(tmp_path / "nowhere.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "old.gzl").write_bytes(b"GZL")
    (folder / "sub").mkdir()
    (folder / ".hidden.png.part").write_bytes(b"")
    assert {".avif", ".jfif", ".png", ".tif", ".qoi"} <= set(image_suffixes())
    assert not {".gzl", ".pdf", ".palm", ".h5"} & set(image_suffixes())  # own, write-only, stub
    result = _run("encode", folder, "--steps", 0, "--model", FACE128)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.glob("*.gzl")) == ["a.gzl", "b.gzl", "c.gzl", "old.gzl"]
    assert "encoded 3, skipped 0 existing, failed 0" in result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {folder / 'd.png'}: skipped, a symbolic link to nothing",
        f"warning: {folder / 'notes.txt'}: skipped, not an image Pillow can open (by its suffix)",
        f"warning: {folder / 'old.gzl'}: skipped, a .gzl file (gzcodec decode reads it)",
        f"warning: {folder / 'sub'}: skipped, a folder (folders inside are not searched)",
    ], result.output


@pytest.mark.parametrize("appeared", ["whole", "partial"])
def test_an_output_another_run_wrote_meanwhile_is_skipped_existing(tmp_path, monkeypatch, appeared):
    # Two `gzcodec encode DIR -o out/` at once: the loser reported every file as failed
    # and exited 1 though each was correct (issue 26, item 15).
    _images(tmp_path / "in", 3)
    out = tmp_path / "out"
    encode_batch = codec.encode_batch

    def racing(images, **keywords):
        files = encode_batch(images, **keywords)
        # The other run finishes img01 first.
        out.mkdir(exist_ok=True)
        (out / "img01.gzl").write_bytes(files[1] if appeared == "whole" else files[1][:-5])
        return files

    monkeypatch.setattr(codec, "encode_batch", racing)
    result = _run("encode", tmp_path / "in", "-o", f"{out}/", "--steps", 0, "--model", FACE128, "-q")
    if appeared == "whole":
        assert result.exit_code == 0, result.output
        assert result.output == "encoded 2, skipped 1 existing, failed 0\n"
    else:  # not a .gzl file that run could have written: still an error
        assert result.exit_code == 1, result.output
        assert "img01.gzl exists" in result.output
        assert "encoded 2, skipped 0 existing, failed 1" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["img00.gzl", "img01.gzl", "img02.gzl"]


def test_each_warning_is_one_line_naming_its_file(tmp_path):
    # Raw Python warnings with a source line, the alpha one once for three files and naming
    # none (issue 26, item 16). A subprocess: pytest would catch raw warnings itself.
    folder = tmp_path / "in"
    folder.mkdir()
    face = Image.open(Path(__file__).parent.parent / "examples" / "face.png").convert("RGBA")
    for name in ("a.png", "b.png", "c.png"):
        face.save(folder / name)
    result = subprocess.run([sys.executable, "-m", "gzcodec.cli", "encode", str(folder), "--model",
                             FACE128, "--steps", "0", "-q"], capture_output=True, text=True,
                            env={**os.environ, "GZCODEC_THREADS": "1"}, timeout=300)
    assert result.returncode == 0, result.stderr
    alpha = "gzcodec stores RGB only: alpha is dropped (composited over white)"
    assert result.stderr.splitlines() == [f"warning: {folder / n}: {alpha}"
                                          for n in ("a.png", "b.png", "c.png")]


def test_huge_inputs_and_unreachable_targets_warn_in_one_line_each(tmp_path, monkeypatch, face):
    face.save(tmp_path / "a.png")
    face.save(tmp_path / "b.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 128 * 128 - 1)  # each is "huge", not a bomb
    result = _run("encode", tmp_path / "a.png", tmp_path / "b.png", "--effort", "none",
                  "--target-ssim", "1", "-q")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in ("a.png", "b.png"):
        mine = [line for line in lines if line.startswith(f"warning: {tmp_path / name}: ")]
        assert len(mine) == 2, result.output
        assert "could be decompression bomb" in mine[0] and "target SSIM 1.0 not reached" in mine[1]
    assert len(lines) == 5 and lines[-1] == "encoded 2, skipped 0 existing, failed 0"


@pytest.mark.parametrize("options", [["--effort", "none"], ["--steps", "2"]], ids=" ".join)
def test_the_progress_bar_reaches_its_end(tmp_path, monkeypatch, options):
    # With --effort none it stayed at 0/N: only refinement steps advanced it (issue 26, polish).
    from gzcodec import cli_encode as cli  # where gzcodec encode draws its bar

    class Bar:
        def __init__(self):
            self.total = self.completed = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def add_task(self, description, total):
            self.total = total

        def advance(self, task, advance=1):
            self.completed += advance

        def update(self, task, completed):
            self.completed = completed

    bar = Bar()
    monkeypatch.setattr(cli, "_progress", lambda enabled: bar)
    _images(tmp_path / "in", 3)
    result = _run("encode", tmp_path / "in", "-o", f"{tmp_path / 'out'}/", *options)
    assert result.exit_code == 0, result.output
    assert bar.total >= 3 and bar.completed == bar.total


def test_encode_of_a_file_named_twice_encodes_it_once(tmp_path, model):
    (path,) = _images(tmp_path, 1)
    result = _run("encode", path, path, "-o", f"{tmp_path / 'out'}/", "--steps", 0, "--bits", 3,
                  "--model", FACE128, "-q")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["img00.gzl"]


def test_folder_encode_hands_the_encoder_reduced_images(tmp_path, model, monkeypatch):
    from gzcodec.imageio import ModelInput

    _images(tmp_path / "in", 3)
    Image.new("RGB", (900, 700), (10, 20, 30)).save(tmp_path / "in" / "big.png")
    real = codec.encode_batch
    handed = []

    def spy(images, **kwargs):
        handed.extend(images)
        return real(images, **kwargs)

    monkeypatch.setattr(codec, "encode_batch", spy)
    result = _run("encode", tmp_path / "in", "-o", tmp_path / "out", "--steps", 0, "--bits", 3, "-q")
    assert result.exit_code == 0, result.output
    side = model.config.image_size
    assert len(handed) == 4 and all(isinstance(im, ModelInput) for im in handed)
    assert all(im.pixels.shape == (side, side, 3) for im in handed)
    big = unpack((tmp_path / "out" / "big.gzl").read_bytes())[0]
    assert (big.source_width, big.source_height) == (900, 700)


_PEAK = textwrap.dedent("""
    import resource, sys, warnings
    warnings.simplefilter("ignore")
    from gzcodec.imageio import read_model_input
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read_model_input(sys.argv[1], 128)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
""")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_a_large_rgba_image_peaks_at_about_twice_its_decoded_size(tmp_path):
    side = 3000
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[: side // 2, :, 3] = 255
    path = tmp_path / "big.png"
    Image.fromarray(rgba, "RGBA").save(path, compress_level=1)
    del rgba
    out = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(Path(gzcodec.__file__).parents[1])})
    decoded_kib = side * side * 4 / 1024
    # It was 4.8x (a copy per step: load, EXIF, RGBA, background, composite, RGB).
    assert int(out.stdout) < 2.6 * decoded_kib

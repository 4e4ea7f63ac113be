"""Coverage-guided fuzzing of ``.gzl`` reading with atheris (libFuzzer). See ``fuzz/README.md``.

Every input is tried twice, as given and with its CRC recomputed (a fuzzer
cannot forge a CRC-32, and the checks behind it matter most; in version 2 the
CRC sits after the variable part of the header, which is found leniently),
through:

1. :func:`gzcodec.container.unpack` and the payload decoders: version 1 with
   :func:`gzcodec.payload.decode_payload` (the model's probability tables
   where the geometry fits, made-up ones otherwise), version 2 with the
   bundled ``face128`` model's latent shape and entropy model
   (:class:`gzcodec.payload.SymbolReader`, whatever the file's model id);
2. what ``gzcodec info --entropy --json`` makes of it
   (:func:`gzcodec.cli_info.info_fields`: the header, the model lookup, the
   family's description of the header, the latent's information content),
   written as JSON and as text;
3. everything :func:`gzcodec.decode` does before the generator (model lookup,
   geometry, payload), with the bundled models, whichever model the file
   names (``face128`` or ``face128-v2``);
4. the generator itself, through :func:`gzcodec.decode` (at the model's size
   and at the source size, as ``gzcodec decode --size`` does) and
   ``PIL.Image.open(...).load()``, for one input in ``GZL_FUZZ_GENERATOR_EVERY``
   (default 16; chosen by a hash of the input, so runs are reproducible) since
   it costs more than all the rest;
5. the forms a file travels in (:mod:`gzcodec.carriers`): its text form
   decodes as the bytes do (the same symbols or the same error), the input as
   the body of a text form is bytes or a ``FormatError``, and, for one input in
   ``GZL_FUZZ_QR_EVERY`` (default 64), a QR code of it reads back bit for bit.
   The input itself may be a text form or a picture (``decode`` tells them
   apart by their first bytes; the seeds have one of each).

The only acceptable outcomes are a decoded image or a
:class:`gzcodec.GzcodecError` (and Pillow's ``UnidentifiedImageError`` from
``Image.open`` for bytes without a valid header); anything else is a finding,
and so is a hang (libFuzzer's ``-timeout``) or a memory blow-up
(``-rss_limit_mb``).

Run::

    python fuzz/fuzz_gzl.py NEW_CORPUS_DIR fuzz/corpus -dict=fuzz/gzl.dict -timeout=10 \\
        -max_total_time=300

Replay files (e.g. a crash): ``python fuzz/fuzz_gzl.py crash-...``.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import signal
import sys
import warnings
import zlib

_state: dict = {}
#: How far inputs got (each input counts twice: as given and with a fixed CRC).
STATS = {"inputs": 0, "container_ok": 0, "payload_ok": 0, "info_ok": 0, "decode_checks_ok": 0,
         "generator": 0, "qr": 0}
#: Of the candidates that passed the decode checks and of those that ran the generator: how
#: many each model decoded (keys ``decode_checks_ok[<model>]``, ``generator[<model>]``).
BY_MODEL: dict[str, int] = {}
GENERATOR_EVERY = max(1, int(os.environ.get("GZL_FUZZ_GENERATOR_EVERY", "16")))
#: The largest ``size="source"`` image the generator stage makes (a file may name 65535x65535).
SOURCE_MAX_PIXELS = 512 * 512
QR_EVERY = max(1, int(os.environ.get("GZL_FUZZ_QR_EVERY", "64")))


def _load() -> dict:
    """Import gzcodec and load the bundled ``face128`` model (once).

    ``face128``, not the default: it has every payload coding and both format
    versions, and the seeds carry its id.
    """
    if not _state:
        import numpy as np
        from PIL import Image, UnidentifiedImageError

        import gzcodec
        from gzcodec import codec, container, payload, testing, textform
        from gzcodec.cli_info import info_fields
        from gzcodec.errors import FormatError, GzcodecError

        # Sizes between Pillow's limit and twice it only warn; say it once, not per input.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        _state.update(np=np, Image=Image, UnidentifiedImageError=UnidentifiedImageError,
                      gzcodec=gzcodec, codec=codec, container=container, payload=payload, testing=testing,
                      textform=textform, info_fields=info_fields,
                      FormatError=FormatError, GzcodecError=GzcodecError,
                      model=gzcodec.load_model("face128"))
    return _state


def _pmf(header):
    np, model = _state["np"], _state["model"]
    if header.bits > 10:
        return None
    if header.latent_shape[0] == model.config.latent_channels and header.bits in model.pmf_tables:
        return model.pmf_tables[header.bits]
    return np.ones((header.latent_shape[0], 1 << header.bits), np.float32)


def _v2_symbols(header, payload: bytes):
    """A version 2 payload decoded with face128's shape and entropy model."""
    s = _state
    model = s["model"]
    if not 2 <= header.rate <= 16:
        raise s["FormatError"]("rate outside face128's")
    if header.coding == s["container"].Coding.RANGE:
        if not model.entropy.codes_rate(header.rate):
            raise s["FormatError"]("no table")
        reader = s["payload"].SymbolReader(payload)
        symbols = model.entropy.read_symbols(reader, rate=header.rate)
        reader.close()
        return symbols
    return s["payload"].decode_payload(payload, bits=header.rate, shape=model.config.latent_shape,
                                       coding=header.coding)


def _container_and_payload(data: bytes) -> None:
    s = _state
    try:
        header, payload = s["container"].unpack(data)
    except s["FormatError"]:
        return
    STATS["container_ok"] += 1
    assert len(payload) == header.payload_length == len(data) - header.header_size
    v2 = header.version == 2
    shape = s["model"].config.latent_shape if v2 else header.latent_shape
    try:
        if v2:
            symbols = _v2_symbols(header, payload)
        else:
            symbols = s["payload"].decode_payload(payload, bits=header.bits, shape=shape,
                                                  coding=header.coding, pmf=_pmf(header))
    except s["FormatError"]:
        return
    STATS["payload_ok"] += 1
    lo, hi = s["payload"].symbol_range(header.rate)
    assert symbols.shape == shape and symbols.dtype == s["np"].int64
    assert symbols.min() >= lo and symbols.max() <= hi


def _info(data: bytes) -> None:
    """``gzcodec info --entropy`` of ``data``: its fields, printed as text and as JSON."""
    s = _state
    try:
        fields = s["info_fields"](data, name="input.gzl", entropy=True)
    except s["GzcodecError"]:
        return
    STATS["info_ok"] += 1
    assert fields["checksum"] == "ok" and fields["bytes"] == len(data)
    for key, value in fields.items():
        assert isinstance(value, (str, int, float)), (key, value)
        assert "\n" not in f"{key}  {value}"
    json.dumps(fields, allow_nan=False)


def _count(stage: str, decoded) -> None:
    STATS[stage] += 1
    key = f"{stage}[{decoded.model.info.name}]"
    BY_MODEL[key] = BY_MODEL.get(key, 0) + 1


def _decode(data: bytes) -> tuple:
    """Decode ``data`` (the generator for some); what the decode checks made of it (:func:`_outcome`)."""
    s = _state
    try:
        decoded = s["codec"].decode_symbols(data)
    except s["GzcodecError"] as exc:
        return _outcome(exc)
    _count("decode_checks_ok", decoded)
    outcome = _outcome(decoded)
    if zlib.crc32(data) % GENERATOR_EVERY:
        return outcome
    _count("generator", decoded)
    image = s["gzcodec"].decode(data)
    assert image.mode == "RGB" and image.size == (decoded.model.config.image_size,) * 2
    try:  # gzcodec decode --size source: the crop's size in the source (or the photo)
        source = s["gzcodec"].decode(data, size="source", max_pixels=SOURCE_MAX_PIXELS)
    except s["GzcodecError"]:
        pass
    else:
        assert source.mode == "RGB" and source.width == source.height <= 512
    if data[:3] != s["container"].MAGIC:
        return outcome  # a text form or a picture: Pillow opens .gzl files only
    try:
        im = s["Image"].open(io.BytesIO(data))
    except s["UnidentifiedImageError"]:
        raise AssertionError("a file that decodes was not identified by Pillow") from None
    with im:
        assert im.tobytes() == image.tobytes()
    return outcome


def _pillow_open(data: bytes) -> None:
    s = _state
    try:
        with s["Image"].open(io.BytesIO(data), formats=["GZL"]) as im:
            assert im.size[0] >= 1 and im.size[1] >= 1
    except s["UnidentifiedImageError"]:
        pass


def _outcome(decoded_or_error) -> tuple:
    """What the decode checks made of an input: its model and symbols, or its error's class."""
    if isinstance(decoded_or_error, BaseException):
        assert "\n" not in str(decoded_or_error)
        return "error", type(decoded_or_error)
    return "ok", decoded_or_error.model.id, decoded_or_error.symbols.tobytes()


def _symbols_outcome(data) -> tuple:
    """What everything before the generator makes of ``data`` (:func:`_outcome`)."""
    s = _state
    try:
        return _outcome(s["codec"].decode_symbols(data))
    except s["GzcodecError"] as exc:
        return _outcome(exc)


def _carriers(data: bytes, outcome: tuple) -> None:
    """The input's text form decodes as ``data`` did (``outcome``); the input as a text form's body."""
    s = _state
    textform = s["textform"]
    text = textform.to_text(data)
    assert textform.from_text(text) == data
    if data[:3] == s["container"].MAGIC:
        assert _symbols_outcome(text) == outcome
    try:  # the input as a text form's body: bytes, or one FormatError
        textform.from_text(b"gzl:" + data)
    except s["FormatError"]:
        pass
    if data[:3] == s["container"].MAGIC and zlib.crc32(data) % QR_EVERY == 0 and len(data) <= 2953:
        from gzcodec.qr import make_qr, read_qr

        STATS["qr"] += 1
        assert read_qr(make_qr(data, level="L", scale=2, border=2).png) == data


def check(data: bytes) -> None:
    """Run one input (as given and with a fixed CRC) through every reader; raise on a finding."""
    _load()
    for candidate in dict.fromkeys((bytes(data), _state["testing"].with_valid_crc(data))):
        STATS["inputs"] += 1
        _container_and_payload(candidate)
        _pillow_open(candidate)
        _info(candidate)
        _carriers(candidate, _decode(candidate))
    n = STATS["inputs"]
    # Like libFuzzer's "pulse": doubling up to 65536 candidates, then every 65536.
    if _state.get("report") and n >= _state.setdefault("next_report", 1024):
        _state["next_report"] = 2 * n if n < 65536 else n + 65536
        print("gzl-stats: " + " ".join(f"{k}={v}" for k, v in {**STATS, **BY_MODEL}.items()),
              file=sys.stderr)


def TestOneInput(data: bytes) -> None:  # the name atheris expects
    check(data)


def _stop_alarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)


def main() -> None:
    import atheris

    with atheris.instrument_imports(include=["gzcodec", "construct"]):
        _load()
    import torch

    torch.set_num_threads(1)
    _state["report"] = True
    # libFuzzer's -timeout is a SIGALRM interval timer that is still running when it exits
    # after the last input; if Python's shutdown (torch's threads) outlasts the next tick, the
    # alarm killed a clean run (exit code -14) or reported a "timeout". Registered last, this
    # runs first at exit.
    atexit.register(_stop_alarm)
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

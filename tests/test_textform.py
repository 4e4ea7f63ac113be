"""The text form (``spec/text-form.md``): one text per file, every bad text one clear error."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gzcodec.container import MAX_FILE_BYTES
from gzcodec.errors import FormatError, LimitError
from gzcodec.textform import MAX_TEXT_CHARS, PREFIX, from_text, is_text, to_text

from .conftest import scaled


@settings(max_examples=scaled(200))
@given(st.binary(max_size=2000))
def test_every_file_round_trips_through_its_text(data):
    text = to_text(data)
    assert text.startswith("gzl:") and text.isascii() and "=" not in text
    assert len(text) == 4 + -(-4 * len(data) // 3)
    assert set(text[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert from_text(text) == data
    assert from_text(text.encode("ascii")) == data


@settings(max_examples=scaled(100))
@given(st.binary(min_size=1, max_size=300), st.data())
def test_whitespace_anywhere_and_correct_padding_are_ignored(data, draw):
    body = base64.urlsafe_b64encode(data).decode()  # padded
    cut = draw.draw(st.integers(0, len(body)))
    spaced = " \n" + PREFIX + body[:cut] + draw.draw(st.sampled_from(["\n", "\r\n", " ", "\t"])) + body[cut:]
    assert from_text(spaced + "\n") == data


@settings(max_examples=scaled(300))
@given(st.text(max_size=80))
def test_any_text_is_a_file_or_one_format_error(text):
    try:
        data = from_text(PREFIX + text)
    except FormatError as exc:
        assert "\n" not in str(exc)
    else:
        # Whatever is accepted is the one text of its bytes, up to whitespace and padding.
        assert to_text(data) == PREFIX + "".join(text.split()).rstrip("=")


@pytest.mark.parametrize("text, message", [
    ("face.gzl", "must start with 'gzl:'"),
    ("GZL:R1pM", "must start with 'gzl:'"),
    ("gzl:R1pM!", "'!' at character 9 is not base64url"),
    ("gzl:R1+M", "'+' at character 7 is not base64url"),  # plain base64, not base64url
    ("gzl:R1/M", "'/' at character 7 is not base64url"),
    ("gzl:R1=pM", "'=' at character 7 is not base64url"),
    ("gzl:R1pMA", "no base64 text is 5 characters long"),
    ("gzl:R1pM==", "wrong padding"),
    ("gzl:R1pMAg=", "wrong padding"),
    ("gzl:R1pMAh", "unused bits set"),  # 'h' and 'g' give the same bytes: only one is the text
])
def test_bad_texts_are_one_line_format_errors(text, message):
    with pytest.raises(FormatError, match=re.escape(message)) as caught:
        from_text(text)
    assert "\n" not in str(caught.value)


def test_a_huge_text_is_refused_before_it_is_decoded():
    longest = to_text(b"\0" * MAX_FILE_BYTES)
    assert 4 * len(longest) == MAX_TEXT_CHARS
    assert len(from_text(longest)) == MAX_FILE_BYTES
    # Longer ones hold more bytes than a file may: the container refuses them, as it would the bytes.
    assert len(from_text(longest + "AAAA")) == MAX_FILE_BYTES + 3
    for huge in (PREFIX + "A" * MAX_TEXT_CHARS, PREFIX.encode() + b" " * MAX_TEXT_CHARS):
        with pytest.raises(LimitError, match="longer than gzcodec reads"):
            from_text(huge)


def test_is_text_looks_at_the_prefix_only():
    assert is_text("gzl:") and is_text(" gzl:x") and is_text(b"gzl:AAAA")
    assert not is_text("face.gzl") and not is_text(b"GZL\x02") and not is_text("Gzl:AAAA")
    assert not is_text(None)  # type: ignore[arg-type]


def test_the_spec_test_vector():
    root = Path(__file__).resolve().parent.parent
    text = to_text((root / "spec" / "testvector-v2.gzl").read_bytes())
    assert f"\n{text}\n" in (root / "spec" / "text-form.md").read_text()
    assert text == "gzl:R1pMAjMBI0VnBIAF4APUYpWfAAAc5UhaLxR2K_o"

"""``gzcodec bench --budgets``: byte budgets, whole files (gzcodec.bench.budgets and the CLI)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gzcodec.bench.budgets import DEFAULT_BUDGETS, budget_bpp, parse_budgets
from gzcodec.bench.measure import budget_bytes
from gzcodec.cli import app

from .helpers import record_bench_calls


def test_budgets_parse_sorted_and_convert_to_the_same_bytes():
    assert parse_budgets("441, 205,3072") == (205, 441, 3072)
    assert parse_budgets(" 100 ") == (100,)
    assert DEFAULT_BUDGETS == (100, 150, 205, 307, 441, 614, 1024, 1536, 2048, 3072)
    # The tables keep bpp internally: each budget's rate names exactly its bytes again.
    assert all(budget_bytes(budget_bpp(b)) == b for b in range(1, 50_000))


@pytest.mark.parametrize("text, words", [
    ("", "at least one budget"),
    ("205,", "'' is not a whole number"),
    ("205,1.5k", "'1.5k' is not a whole number"),
    ("-5", "'-5' is not a whole number"),
    ("0", "must be above 0"),
    ("205,441,205", "205 bytes is given twice"),
])
def test_a_bad_budget_list_is_refused_with_a_reason(text, words):
    with pytest.raises(ValueError, match=words):
        parse_budgets(text)


def test_the_cli_refuses_bad_budgets_in_one_line_before_any_work(bench_dir, tmp_path):
    args = ["bench", str(bench_dir), "--budgets", "205,x", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert "--budgets" in result.output and "'x' is not a whole number of bytes" in result.output
    assert not (tmp_path / "o").exists()


def test_the_cli_passes_the_budgets_and_the_identity_switch(bench_dir, tmp_path, monkeypatch):
    calls = record_bench_calls(monkeypatch)
    base = ["bench", str(bench_dir), "--n", "1", "--no-cache", "--out", str(tmp_path / "o"), "--force"]
    assert CliRunner().invoke(app, [*base, "--budgets", "441,205"]).exit_code == 0
    assert calls[-1]["budgets"] == (205, 441) and calls[-1]["identity"] is True
    assert CliRunner().invoke(app, [*base, "--no-identity"]).exit_code == 0
    assert calls[-1]["budgets"] == DEFAULT_BUDGETS and calls[-1]["identity"] is False

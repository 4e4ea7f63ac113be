"""The "largest setting that fits" search (gzcodec.search): Bracket and bisect on their own."""

from __future__ import annotations

import math

import pytest

from gzcodec.search import Bracket, bisect


class _Probes:
    """A ``below`` for :func:`bisect` that answers ``index < threshold`` per bracket and
    records every round's probes."""

    def __init__(self, *thresholds: int) -> None:
        self.thresholds = thresholds
        self.rounds: list[list[int | None]] = []

    def __call__(self, probes: list[int | None]) -> list[bool]:
        self.rounds.append(list(probes))
        return [p is not None and p < t for p, t in zip(probes, self.thresholds, strict=True)]


def test_a_new_bracket_knows_nothing():
    bracket = Bracket.over(7)
    assert (bracket.lo, bracket.hi) == (-1, 7)
    assert bracket.open and bracket.middle == 3


def test_record_moves_the_side_the_answer_names():
    bracket = Bracket.over(7)
    bracket.record(3, below=True)
    assert (bracket.lo, bracket.hi) == (3, 7)
    bracket.record(5, below=False)
    assert (bracket.lo, bracket.hi) == (3, 5) and bracket.open
    bracket.record(4, below=True)
    assert (bracket.lo, bracket.hi) == (4, 5) and not bracket.open


@pytest.mark.parametrize("n", [1, 2, 7, 256])
def test_nothing_fits(n):
    bracket, probes = Bracket.over(n), _Probes(0)
    bisect([bracket], probes)
    assert (bracket.lo, bracket.hi) == (-1, 0)  # no setting fits; 0 is the smallest that reaches


@pytest.mark.parametrize("n", [1, 2, 7, 256])
def test_everything_fits(n):
    bracket, probes = Bracket.over(n), _Probes(n)
    bisect([bracket], probes)
    assert (bracket.lo, bracket.hi) == (n - 1, n)  # the largest fits; none reaches


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 256])
def test_a_monotone_answer_is_found_exactly_within_log2_rounds(n):
    for threshold in range(n + 1):  # settings 0..threshold-1 fit
        bracket, probes = Bracket.over(n), _Probes(threshold)
        bisect([bracket], probes)
        assert (bracket.lo, bracket.hi) == (threshold - 1, threshold), threshold
        assert len(probes.rounds) <= math.ceil(math.log2(n + 1)), (threshold, probes.rounds)
        assert all(0 <= p < n for (p,) in probes.rounds)  # never probes outside the ladder


def test_an_empty_ladder_is_closed_without_a_probe():
    bracket, probes = Bracket.over(0), _Probes(0)
    bisect([bracket], probes)
    assert (bracket.lo, bracket.hi) == (-1, 0) and probes.rounds == []


def test_brackets_advance_in_lock_step_one_call_a_round():
    brackets = [Bracket.over(7), Bracket.over(256), Bracket.over(1)]
    probes = _Probes(4, 100, 1)
    bisect(brackets, probes)
    assert [(b.lo, b.hi) for b in brackets] == [(3, 4), (99, 100), (0, 1)]
    # The longest ladder sets the number of rounds; a closed bracket is probed with None.
    assert len(probes.rounds) <= math.ceil(math.log2(256 + 1))
    assert all(len(row) == 3 for row in probes.rounds)
    assert probes.rounds[0][2] == 0 and all(row[2] is None for row in probes.rounds[1:])


def test_answers_for_closed_brackets_are_ignored():
    brackets = [Bracket(2, 3), Bracket.over(4)]

    def below(probes: list[int | None]) -> list[bool]:
        assert probes[0] is None
        return [True, probes[1] < 2]  # a "yes" for the closed bracket changes nothing

    bisect(brackets, below)
    assert [(b.lo, b.hi) for b in brackets] == [(2, 3), (1, 2)]

"""Point metrics: correlations against scipy, concordance against brute force, top-k metrics by hand."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from harness.analysis import topk
from harness.analysis.stats import concordance, correlation, kendall_tau_b, spearman_gradient


@pytest.mark.parametrize("ties", [False, True])
def test_correlations_equal_scipy(ties: bool) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=200)
    y = 0.5 * x + rng.normal(size=200)
    if ties:
        x, y = np.round(x), np.round(y * 2)
    assert correlation(x, y, "spearman") == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert correlation(x, y, "kendall") == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert correlation(x, y, "pearson") == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)


def test_correlation_is_signed_and_undefined_cases_are_nan() -> None:
    x = np.arange(10.0)
    assert correlation(x, -x, "spearman") == pytest.approx(-1.0)
    assert correlation(x, -x, "kendall") == pytest.approx(-1.0)
    assert np.isnan(correlation(x, np.ones(10), "spearman"))  # constant: undefined, not 0
    assert np.isnan(correlation(x[:2], x[:2], "pearson"))  # fewer than 3 values
    with pytest.raises(ValueError, match="unknown correlation"):
        correlation(x, x, "cosine")
    with pytest.raises(ValueError, match="different lengths"):
        correlation(x, x[:5], "pearson")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), min_size=1, max_size=40))
def test_concordance_matches_brute_force(pairs: list[tuple[int, int]]) -> None:
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    brute = (np.sign(x[:, None] - x[None, :]) * np.sign(y[:, None] - y[None, :])).sum(axis=1)
    assert np.array_equal(concordance(x, y), brute)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on one-element input
        expected = stats.kendalltau(x, y).statistic
    if np.isnan(expected):
        assert np.isnan(kendall_tau_b(x, y))
    else:
        assert kendall_tau_b(x, y) == pytest.approx(expected, abs=1e-12)


def test_concordance_large_values_and_hand_case() -> None:
    # x = 1, 2, 3; y = 1, 3, 2: pairs (1,2) and (1,3) concordant, (2,3) discordant.
    assert concordance(np.array([1.0, 2, 3]), np.array([1.0, 3, 2])).tolist() == [2, 0, 0]
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=3000), rng.normal(size=3000)  # > 2^11 distinct ranks: several bit levels
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_spearman_gradient_matches_finite_differences(ties: bool) -> None:
    from harness.analysis.bootstrap import _Groups

    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    if ties:
        x, y = np.round(x), np.round(2 * y)

    def weighted_rho(c: np.ndarray) -> float:
        counts = c[:, None]
        ranks = []
        for v in (x, y):
            g = _Groups(v)
            ranks.append(g.centred_midranks(counts)[g.inverse][:, 0])
        rx, ry = ranks
        return float(np.sum(c * rx * ry) / np.sqrt(np.sum(c * rx * rx) * np.sum(c * ry * ry)))

    rho, gradient = spearman_gradient(x, y)
    assert rho == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert gradient.sum() == pytest.approx(0, abs=1e-10)
    eps = 1e-6
    for k, j in [(0, 1), (5, 30), (12, 39)]:  # move weight between two cells: the total stays n
        step = np.zeros(40)
        step[k], step[j] = eps, -eps
        numeric = (weighted_rho(1 + step) - weighted_rho(1 - step)) / (2 * eps)
        assert numeric == pytest.approx(gradient[k] - gradient[j], abs=1e-6)


def test_top_membership_splits_ties_at_the_boundary() -> None:
    scores = np.array([5.0, 4, 3, 3, 3, 1])
    assert topk.top_membership(scores, 3).tolist() == pytest.approx([1, 1, 1 / 3, 1 / 3, 1 / 3, 0])
    assert topk.top_membership(scores, 1).tolist() == [1, 0, 0, 0, 0, 0]
    assert topk.top_count(15625, 1) == 156 and topk.top_count(10, 1) == 1 and topk.top_count(10, 100) == 10
    with pytest.raises(ValueError, match="top-k percentage"):
        topk.top_count(10, 0)


def test_precision_at_hand_cases() -> None:
    truth = np.arange(100.0)  # cell 99 best
    assert topk.precision_at(truth, truth, 10) == 1.0
    assert topk.precision_at(-truth, truth, 10) == 0.0
    scores = truth.copy()
    scores[95:] = -1  # the proxy misses half of the true top 10
    assert topk.precision_at(scores, truth, 10) == pytest.approx(0.5)
    constant = np.zeros(100)  # a proxy that cannot rank: expected precision = k / n
    assert topk.precision_at(constant, truth, 10) == pytest.approx(0.1)


def test_ndcg_hand_case_and_ties() -> None:
    truth = np.array([0.0, 50, 100])  # gains 0, 0.5, 1
    ideal = 1 + 0.5 / np.log2(3)
    assert topk.ndcg_at(np.array([0.0, 1, 2]), truth, 2) == pytest.approx(1.0)
    assert topk.ndcg_at(np.array([2.0, 1, 0]), truth, 2) == pytest.approx((0 + 0.5 / np.log2(3)) / ideal)
    # two cells tied first: each expects the mean discount of positions 1 and 2
    tied = np.array([0.0, 1, 1])
    expected = (0.5 + 1) * (1 + 1 / np.log2(3)) / 2 / ideal
    assert topk.ndcg_at(tied, truth, 2) == pytest.approx(expected)
    assert np.isnan(topk.ndcg_at(np.array([1.0, 2]), np.array([5.0, 5]), 2))


def test_true_ranks_and_best_rank() -> None:
    truth = np.array([90.0, 95, 95, 80])
    assert topk.true_ranks(truth).tolist() == [3, 1, 1, 4]
    assert topk.best_rank_at(np.array([4.0, 3, 2, 1]), truth, 1) == 3
    assert topk.best_rank_at(np.array([4.0, 3, 2, 1]), truth, 2) == 1


def test_best_rank_expectation_over_tie_breaks_equals_enumeration() -> None:
    rng = np.random.default_rng(7)
    truth = rng.permutation(12).astype(float)
    scores = np.array([9.0, 8, 5, 5, 5, 5, 5, 1, 1, 0, 0, 0])
    ranks = topk.true_ranks(truth)
    for k in (1, 3, 4, 6, 7, 9):
        above = scores > np.sort(scores)[::-1][k - 1]
        tied = np.flatnonzero(scores == np.sort(scores)[::-1][k - 1])
        slots = k - above.sum()
        outcomes = [min([*ranks[above], *ranks[list(chosen)]]) for chosen in itertools.combinations(tied, int(slots))]
        assert topk.best_rank_at(scores, truth, k) == pytest.approx(np.mean(outcomes))


def test_kendall_in_top_uses_only_the_true_top() -> None:
    truth = np.arange(100.0)
    scores = truth.copy()
    scores[90:] = scores[90:][::-1]  # perfect overall order except reversed inside the true top 10
    assert topk.kendall_in_top(scores, truth, 10) == pytest.approx(-1.0)
    assert correlation(scores, truth, "kendall") > 0.9

"""Bootstrap: each resample equals scipy on the resampled data; intervals cover a known correlation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from harness.analysis import bootstrap
from harness.analysis.bootstrap import bootstrap_correlations, percentile_interval, resample_counts
from harness.analysis.synthetic import latent_kendall, latent_spearman

SCIPY = {"spearman": stats.spearmanr, "kendall": stats.kendalltau, "pearson": stats.pearsonr}


def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.hstack(list(resample_counts(n, n_boot, seed))).T  # resamples x cells


@pytest.mark.parametrize("n", [7, 60])
def test_every_resample_equals_scipy_on_the_resampled_cells(n: int) -> None:
    rng = np.random.default_rng(n)
    y = rng.integers(0, 5, n).astype(float)  # ties in both vectors, and duplicates from resampling
    xs = [y + rng.integers(0, 4, n), rng.normal(size=n)]
    boot = bootstrap_correlations(xs, y, n_boot=40, seed=3)
    counts = _resamples(n, 40, 3)
    assert counts.sum(axis=1).tolist() == [n] * 40
    for b, row in enumerate(counts):
        idx = np.repeat(np.arange(n), row.astype(int))
        for p, x in enumerate(xs):
            for method, fn in SCIPY.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a resample may be constant: both sides give NaN
                    expected = fn(x[idx], y[idx]).statistic
                got = boot[method][p, b]
                assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("ties", [False, True])
def test_linearised_resamples_track_the_exact_ones(monkeypatch: pytest.MonkeyPatch, ties: bool) -> None:
    rng = np.random.default_rng(11)
    y = rng.normal(size=600)
    x = 0.6 * y + 0.8 * rng.normal(size=600)
    if ties:
        x, y = np.round(x, 1), np.round(y, 1)
    monkeypatch.setattr(bootstrap, "SPEARMAN_EXACT_MAX_N", 10**6)
    exact = bootstrap_correlations(x, y, n_boot=300, seed=1, kendall_exact_max_n=10**6)
    monkeypatch.setattr(bootstrap, "SPEARMAN_EXACT_MAX_N", 0)
    linear = bootstrap_correlations(x, y, n_boot=300, seed=1, kendall_exact_max_n=0)
    for method in ("spearman", "kendall"):
        e, lin = exact[method][0], linear[method][0]
        assert np.abs(e - lin).max() < 0.02  # per resample, against a bootstrap sd of about 0.03
        assert np.allclose(percentile_interval(e), percentile_interval(lin), atol=0.006)
    assert np.array_equal(exact["pearson"], linear["pearson"])  # Pearson is always exact


def test_resamples_are_seeded_and_shared_across_vectors() -> None:
    rng = np.random.default_rng(0)
    y, x = rng.normal(size=50), rng.normal(size=50)
    first = bootstrap_correlations(x, y, n_boot=100, seed=4)
    bootstrap._MEMO.clear()
    again = bootstrap_correlations(x, y, n_boot=100, seed=4)
    other = bootstrap_correlations(x, y, n_boot=100, seed=5)
    assert np.array_equal(first["spearman"], again["spearman"])
    assert not np.array_equal(first["spearman"], other["spearman"])
    # the same vector twice: identical resampled values, so a paired difference is exactly 0
    pair = bootstrap_correlations([x, x], y, n_boot=100, seed=4)["kendall"]
    assert percentile_interval(pair[0] - pair[1]) == (0.0, 0.0)
    first["spearman"][0, 0] = 99.0  # callers may modify results without corrupting the memo
    assert bootstrap_correlations(x, y, n_boot=100, seed=4)["spearman"][0, 0] != 99.0


def _coverage(n: int, r: float, replicates: int, rng: np.random.Generator) -> dict[str, float]:
    truth = {"spearman": latent_spearman(r), "kendall": latent_kendall(r), "pearson": r}
    hits = dict.fromkeys(truth, 0)
    cov = np.array([[1, r], [r, 1]])
    for i in range(replicates):
        x, y = rng.multivariate_normal([0, 0], cov, size=n).T
        boot = bootstrap_correlations(x, y, n_boot=300, seed=i)
        for method, value in truth.items():
            lo, hi = percentile_interval(boot[method][0])
            hits[method] += lo <= value <= hi
    return {m: h / replicates for m, h in hits.items()}


def test_interval_coverage_on_bivariate_normal_data() -> None:
    rng = np.random.default_rng(2024)
    small = _coverage(n=150, r=0.6, replicates=150, rng=rng)  # exact resampling paths
    large = _coverage(n=2500, r=0.5, replicates=60, rng=rng)  # linearised Spearman and Kendall
    for method in small:
        # nominal 95%: a binomial sd of about 1.8% (150 replicates) / 2.8% (60); percentile intervals may run a
        # little narrow in small samples, so accept 0.85..1 and 0.83..1
        assert 0.85 <= small[method] <= 0.995, (method, small)  # 1.0 would mean intervals far too wide
        assert 0.83 <= large[method] <= 1.0, (method, large)


def test_percentile_interval_validation_and_nan() -> None:
    assert percentile_interval(np.array([np.nan, np.nan])) == pytest.approx((np.nan, np.nan), nan_ok=True)
    assert percentile_interval(np.arange(101.0), level=0.9) == pytest.approx((5.0, 95.0))
    with pytest.raises(ValueError, match="confidence level"):
        percentile_interval(np.arange(3.0), level=1.5)
    with pytest.raises(ValueError, match="scores for"):
        bootstrap_correlations(np.arange(3.0), np.arange(4.0))
    with pytest.raises(ValueError, match="seed"):
        list(resample_counts(5, 10, seed=-1))

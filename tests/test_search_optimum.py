"""The exact optimum of NASI's penalised objective, hand-computed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.search.optimum import objective_optimum, rewards

IDX = np.array([10, 11, 12, 13, 14])
S = np.array([1.0, 5.0, 9.0, 12.0, np.nan])
ACC = np.array([80.0, 90.0, 93.0, 85.0, 99.0])


def test_mu_above_one_picks_the_largest_score_under_nu():
    opt = objective_optimum(IDX, S, ACC, mu=2.0, nu=10.0, near=2)
    assert opt.best_reward == 9.0 and opt.cells.tolist() == [12] and opt.accuracy_mean == 93.0
    # R: 1, 5, 9, 12 - 2*2 = 8 -> the two best are 12 (R 9) and 13 (R 8)
    assert opt.near_cells.tolist() == [12, 13] and opt.near_accuracy_mean == 89.0


def test_a_cell_just_above_nu_can_win_and_mu_one_ties():
    assert objective_optimum(IDX, S, ACC, mu=2.0, nu=11.5).cells.tolist() == [13]  # R = 12 - 1 = 11 > 9
    tie = objective_optimum(IDX, S, ACC, mu=1.0, nu=4.0)
    assert tie.cells.tolist() == [11, 12, 13] and tie.accuracy_mean == pytest.approx((90 + 93 + 85) / 3)
    assert objective_optimum(IDX, S, ACC, mu=0.5, nu=4.0).cells.tolist() == [13]  # mu < 1: the largest score


def test_bad_input():
    with pytest.raises(ValueError, match="mu must be >= 0"):
        objective_optimum(IDX, S, ACC, mu=-1, nu=1)
    with pytest.raises(ValueError, match="no cell has both"):
        objective_optimum(IDX, np.full(5, np.nan), ACC, mu=1, nu=1)


@given(st.lists(st.floats(0, 1e4), min_size=1, max_size=40), st.floats(1.0, 4.0), st.floats(0.0, 1e4))
def test_the_optimum_is_a_maximiser(scores, mu, nu):
    s = np.array(scores)
    idx = np.arange(s.size)
    opt = objective_optimum(idx, s, np.zeros(s.size), mu=mu, nu=nu)
    assert opt.best_reward == rewards(s, mu, nu).max()
    assert all(rewards(s[opt.cells], mu, nu) >= opt.best_reward - 1e-9 * max(1.0, abs(opt.best_reward)))

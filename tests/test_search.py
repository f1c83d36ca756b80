"""Search: Gumbel straight-through, reward, aggregation, the supernet's second-order gradient, tiny end-to-end
searches (deterministic per seed), the sample baseline, the store, and bad arguments."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch
from torch import nn

from harness.cli import main
from harness.proxies import base as proxy_base
from harness.proxies import register_proxy
from harness.search import SearchResult, make_config, parse_seeds, record, run_search, summarise
from harness.search.gumbel import sample_gumbel, straight_through
from harness.search.objective import DeltaAggregator, RunningMean, reward, trace_norm_estimate
from harness.search.result import ACCURACY_DATASETS
from harness.search.sample import pick_best
from harness.search.supernet import EDGE_SOURCES, NB201Supernet, SuperCell, arch_from_choice
from harness.spaces import get_space
from harness.spaces.cell import parse_arch
from harness.spaces.networks import CellNetwork
from harness.spaces.ops import OP_NAMES

TINY = {"channels": 4, "cells_per_stage": 1, "batch_size": 8, "data_mode": "gaussian", "label_mode": "random"}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny nets gain nothing from threads, and on a busy 2-core machine spinning threads cost 10x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- straight-through Gumbel-softmax ---------------------------------------------------------------------------


def test_straight_through_forward_is_exactly_one_hot_at_the_perturbed_argmax():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 5)
    noise = sample_gumbel((6, 5), gen)
    w = straight_through(logits, noise, tau=0.7)
    assert set(w.detach().unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(w.detach().sum(-1), torch.ones(6))
    assert torch.equal(w.detach().argmax(-1), (logits + noise).argmax(-1))


def test_straight_through_gradient_is_the_softmax_gradient():
    gen = torch.Generator().manual_seed(4)
    noise = sample_gumbel((6, 5), gen)
    upstream = torch.randn(6, 5)
    a1 = torch.randn(6, 5, requires_grad=True)
    (straight_through(a1, noise, tau=1.5) * upstream).sum().backward()
    a2 = a1.detach().clone().requires_grad_(True)
    (torch.softmax((a2 + noise) / 1.5, dim=-1) * upstream).sum().backward()
    torch.testing.assert_close(a1.grad, a2.grad, rtol=0, atol=1e-7)
    assert a1.grad.abs().sum() > 0


def test_gumbel_samples_are_seeded_finite_and_uniform_at_alpha_zero():
    a = sample_gumbel((4000, 5), torch.Generator().manual_seed(0))
    b = sample_gumbel((4000, 5), torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and torch.isfinite(a).all()
    counts = torch.bincount(straight_through(torch.zeros(4000, 5), a).argmax(-1), minlength=5).float() / 4000
    assert (counts - 0.2).abs().max() < 0.03  # each op ~20% (sd 0.6%)
    assert abs(float(a.mean()) - 0.5772) < 0.05  # Euler-Mascheroni: the Gumbel(0, 1) mean


def test_straight_through_rejects_bad_temperature():
    with pytest.raises(ValueError, match="temperature"):
        straight_through(torch.zeros(6, 5), torch.zeros(6, 5), tau=0.0)


# --- reward, aggregation, running mean -------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "mu", "nu", "value", "slope"), [
    (3.0, 2.0, 5.0, 3.0, 1.0),     # below the constraint: the score itself
    (8.0, 2.0, 5.0, 2.0, -1.0),    # above: 8 - 2 * 3, decreasing in the score
    (8.0, 1.0, 5.0, 5.0, 0.0),     # mu = 1: flat above nu
    (8.0, 0.0, 5.0, 8.0, 1.0),     # no penalty
])  # fmt: skip
def test_reward_and_its_gradient(score, mu, nu, value, slope):
    s = torch.tensor(score, requires_grad=True)
    r = reward(s, mu, nu)
    r.backward()
    assert float(r.detach()) == pytest.approx(value)
    assert float(s.grad) == pytest.approx(slope)


def test_aggregation_divides_by_the_running_max_norm():
    agg = DeltaAggregator()
    grads = [torch.tensor([3.0, 4.0]), torch.tensor([0.0, 10.0]), torch.tensor([1.0, 0.0])]
    terms = [agg.add(g) for g in grads]  # each step's normalised term, as penalty_share.py splits them
    for term, expected_term in zip(terms, (grads[0] / 5, grads[1] / 10, grads[2] / 10)):
        torch.testing.assert_close(term, expected_term)
    expected = (grads[0] / 5 + grads[1] / 10 + grads[2] / 10) / 3
    torch.testing.assert_close(agg.delta, expected)
    assert agg.max_norm == 10.0 and agg.count == 3


def test_aggregation_zero_gradients_count_but_add_nothing():
    agg = DeltaAggregator()
    agg.add(torch.zeros(2))
    agg.add(torch.tensor([0.0, 2.0]))
    torch.testing.assert_close(agg.delta, torch.tensor([0.0, 0.5]))
    with pytest.raises(ValueError, match="non-finite"):
        agg.add(torch.tensor([math.nan, 0.0]))
    with pytest.raises(ValueError, match="no gradient"):
        _ = DeltaAggregator().delta


def test_running_mean_with_and_without_initial_value():
    m = RunningMean()
    assert [m.update(v) for v in (2.0, 4.0, 6.0)] == [2.0, 3.0, 4.0]
    m0 = RunningMean(10.0)
    assert m0.update(2.0) == 6.0


# --- supernet ----------------------------------------------------------------------------------------------------


def _one_hot(choice: list[int], requires_grad: bool) -> torch.Tensor:
    w = torch.zeros(6, 5, dtype=torch.float64)
    w[range(6), choice] = 1.0
    return w.requires_grad_(requires_grad)


def test_arch_from_choice_matches_edge_order():
    choice = [3, 0, 2, 4, 1, 3]
    genotype = parse_arch(arch_from_choice(choice))
    ops = {(node, src): op for node, edges in enumerate(genotype, start=1) for op, src in edges}
    assert [ops[e] for e in EDGE_SOURCES] == [OP_NAMES[i] for i in choice]
    get_space("nb201").resolve(arch_from_choice(choice))  # a real cell
    with pytest.raises(ValueError):
        arch_from_choice([0, 1])


def test_supernet_forward_equals_the_sampled_architecture():
    """One-hot weights (mixed path and selected-op path) compute exactly the benchmark network of that cell."""
    torch.manual_seed(0)
    choice = [3, 1, 2, 4, 3, 1]  # conv3x3, skip, conv1x1, pool, conv3x3, skip
    sup = NB201Supernet(10, channels=4, cells_per_stage=1).double()
    net = CellNetwork(parse_arch(arch_from_choice(choice)), [4, 8, 8, 16, 16], 10).double()
    state = {}
    cell_ids = [i for i, b in enumerate(net.cells) if b.__class__.__name__ == "Cell"]
    for k, v in net.state_dict().items():
        parts = k.split(".")
        if parts[0] == "cells" and int(parts[1]) in cell_ids:  # cells.I.edges.E.rest -> blocks.I.edges.E.ops.C.rest
            e = int(parts[3])
            state[".".join(["blocks", parts[1], "edges", str(e), "ops", str(choice[e]), *parts[4:]])] = v
        elif parts[0] == "cells":
            state[".".join(["blocks", *parts[1:]])] = v
        else:
            state[k] = v
    missing = sup.load_state_dict(state, strict=False)
    assert not missing.unexpected_keys
    x = torch.randn(6, 3, 32, 32, dtype=torch.float64)
    expected = net(x)
    torch.testing.assert_close(sup(x, _one_hot(choice, True)), expected)
    torch.testing.assert_close(sup(x, _one_hot(choice, False)), expected)


def test_score_gradient_is_exact_second_order():
    """d score / d w over the active parameters equals the all-parameter one and central finite differences."""
    torch.manual_seed(1)
    sup = NB201Supernet(5, channels=3, cells_per_stage=1).double()
    x, y = torch.randn(6, 3, 8, 8, dtype=torch.float64), torch.randint(0, 5, (6,))
    choice = [3, 2, 1, 4, 3, 0]

    def score(w: torch.Tensor, active: bool, graph: bool) -> torch.Tensor:
        params = sup.active_parameters(choice) if active else sup.parameters()
        return trace_norm_estimate(sup(x, w), y, params, create_graph=graph)

    w = _one_hot(choice, True)
    (g_active,) = torch.autograd.grad(score(w, True, True), w)
    w = _one_hot(choice, True)
    (g_all,) = torch.autograd.grad(score(w, False, True), w)
    torch.testing.assert_close(g_active, g_all)
    assert g_active.abs().sum() > 0 and torch.all(g_active[:, 0] == 0)  # 'none' adds w * 0: no gradient
    eps = 1e-5
    for e, o in [(0, 3), (1, 4), (4, 1), (5, 2)]:  # selected and unselected ops
        plus, minus = _one_hot(choice, True), _one_hot(choice, True)
        with torch.no_grad():
            plus[e, o] += eps
            minus[e, o] -= eps
        fd = (score(plus, False, False) - score(minus, False, False)) / (2 * eps)
        assert float(g_all[e, o]) == pytest.approx(float(fd), rel=1e-4, abs=1e-9)


def test_cell_bn_without_affine_changes_only_the_scored_parameter_set():
    """DARTS / NB201 search-code convention: same forward and conv weights; the cells' BN gamma/beta leave the score."""
    torch.manual_seed(3)
    with_affine = NB201Supernet(5, channels=3, cells_per_stage=1).double()
    torch.manual_seed(3)
    without = NB201Supernet(5, channels=3, cells_per_stage=1, cell_bn_affine=False).double()
    cell_bns = [
        m for b in without.blocks if isinstance(b, SuperCell) for m in b.modules() if isinstance(m, nn.BatchNorm2d)
    ]
    assert cell_bns and all(not m.affine and m.weight is None for m in cell_bns)
    assert without.stem[1].affine and without.lastact[0].affine  # outside the cells: kept
    kept = dict(without.named_parameters())
    assert set(kept) == {n for n, p in with_affine.named_parameters() if not (".edges." in n and p.dim() == 1)}
    for name, p in kept.items():
        torch.testing.assert_close(p, dict(with_affine.named_parameters())[name], rtol=0, atol=0)
    x, y = torch.randn(6, 3, 8, 8, dtype=torch.float64), torch.randint(0, 5, (6,))
    choice = [3, 2, 1, 4, 3, 0]
    w = _one_hot(choice, False)
    torch.testing.assert_close(without(x, w), with_affine(x, w), rtol=0, atol=0)
    score = trace_norm_estimate(without(x, w), y, without.active_parameters(choice), create_graph=False)
    conv_only = [p for n, p in with_affine.named_parameters() if n in kept]
    expected = trace_norm_estimate(with_affine(x, w), y, conv_only, create_graph=False)
    torch.testing.assert_close(score, expected)
    full = trace_norm_estimate(with_affine(x, w), y, with_affine.active_parameters(choice), create_graph=False)
    assert float(full) > float(score) > 0


# --- end to end --------------------------------------------------------------------------------------------------


def test_tiny_nasi_search_is_deterministic_for_a_seed():
    kw = {"steps": 3, "nu_cells": 2, "device": "cpu", "accuracy": False, **TINY}
    a = run_search("nasi", seed=0, **kw)
    b = run_search("nasi", seed=0, **kw)
    c = run_search("nasi", seed=1, **kw)
    assert (a.index, a.arch, a.details["alpha"], a.details["nu"]) == (
        b.index,
        b.arch,
        b.details["alpha"],
        b.details["nu"],
    )
    assert a.details["alpha"] != c.details["alpha"]
    assert a.arch == get_space("nb201").arch(a.index)
    assert a.details["nu"] > 0 and a.device == "cpu" and a.seconds > 0
    assert a.accuracy == {name: None for name in ACCURACY_DATASETS}
    assert a.config["steps"] == 3 and a.config["variant"] == "fix"


def test_nasi_ada_and_explicit_nu():
    kw = {"steps": 2, "device": "cpu", "accuracy": False, **TINY}
    ada = run_search("nasi", variant="ada", **kw)
    fixed = run_search("nasi", variant="fix", nu=123.0, **kw)
    assert fixed.details["nu"] == 123.0 and fixed.details["nu_seconds"] < 1.0
    assert ada.details["nu"] == pytest.approx(ada.details["mean_score"])  # running mean over the 2 samples


def test_search_reports_ground_truth(shared_data):
    result = run_search("nasi", steps=1, nu=1.0, device="cpu", data_dir=shared_data, **TINY)
    table = pd.read_csv(shared_data / "nb201" / "tss_test_acc_200ep_seedavg.csv")
    assert table.loc[result.index, "ArchitectureString"] == result.arch
    assert result.accuracy["cifar10"] == pytest.approx(table.loc[result.index, "CIFAR10TestAccuracy200Epochs"])
    assert result.accuracy["ImageNet16-120"] == pytest.approx(table.loc[result.index, "ImageNetTestAccuracy200Epochs"])


@pytest.fixture
def params_proxy():
    @register_proxy("t_params", needs_labels=False)
    def params(net, inputs, targets, ctx):
        return float(sum(p.numel() for p in net.parameters()))

    @register_proxy("t_neg_params", needs_labels=False, higher_is_better=False)
    def neg(net, inputs, targets, ctx):
        return -float(sum(p.numel() for p in net.parameters()))

    yield
    for name in ("t_params", "t_neg_params"):
        proxy_base.unregister_proxy(name)


def test_sample_keeps_the_best_scored_cell(params_proxy):
    import random

    sp = get_space("nb201")
    kw = {"n": 6, "batch_size": 2, "data_mode": "gaussian", "label_mode": "random", "device": "cpu", "accuracy": False}
    result = run_search("sample", seed=5, proxies="t_params", **kw)
    cells = random.Random(5).sample(range(len(sp)), 6)
    best = max(cells, key=lambda i: sp.cost(i).params_m)
    assert result.index == best
    assert result.details["scores"]["t_params"] == pytest.approx(sp.cost(best).params_m * 1e6, rel=1e-6)
    # an ensemble of a proxy and its mirror image in the other direction agrees with either alone
    assert run_search("sample", seed=5, proxies="t_params,t_neg_params", **kw).index == best


def test_pick_best_ranks_directions_and_missing_scores():
    higher = {"a": True, "b": False}
    assert pick_best([10, 11, 12], {"a": [1.0, 3.0, 2.0]}, higher) == 1
    assert pick_best([10, 11, 12], {"b": [1.0, 3.0, 2.0]}, higher) == 0
    # ranks: a -> [1, 3, 2]; b (lower better) -> [3, 1, 2] ... cell 2 wins the sum with a None elsewhere
    assert pick_best([10, 11, 12], {"a": [1.0, None, 2.0], "b": [5.0, None, 1.0]}, higher) == 2
    with pytest.raises(Exception, match="no sampled cell"):
        pick_best([10, 11], {"a": [None, None]}, higher)


def test_summarise_mean_std_and_missing():
    def res(seed: int, c10: float | None) -> SearchResult:
        acc = {"cifar10": c10, "cifar100": None, "ImageNet16-120": 40.0}
        return SearchResult("nasi", "nb201", "cifar10", seed, {}, 0, "", acc, 1.0, "cpu")

    s = summarise([res(0, 93.0), res(1, 95.0), res(2, None)])
    assert s["cifar10"] == {"mean": 94.0, "std": 1.0}
    assert s["cifar100"] == {"mean": None, "std": None}
    assert s["ImageNet16-120"] == {"mean": 40.0, "std": 0.0}


def test_record_writes_to_the_store(tmp_path):
    from harness.store import ResultStore, load_search_runs

    result = run_search("nasi", steps=1, nu=1.0, device="cpu", accuracy=False, **TINY)
    result.accuracy["cifar10"] = 93.5
    path = tmp_path / "results.sqlite"
    with ResultStore(path) as store:
        record(store, "s1", result)
    frame = load_search_runs(path)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["algorithm"], row["index"], row["arch"], row["seed"]) == ("nasi", result.index, result.arch, 0)
    assert row["accuracy_cifar10"] == 93.5 and row["config"]["steps"] == 1


# --- arguments -----------------------------------------------------------------------------------------------------


def test_parse_seeds():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("5") == [5]
    assert parse_seeds("1, 4,2") == [1, 4, 2]
    for bad in ("3-1", "a", "-1", "1,1", "", "0-"):
        with pytest.raises(ValueError, match="bad seeds"):
            parse_seeds(bad)


@pytest.mark.parametrize(("args", "message"), [
    (("bogus",), "unknown search algorithm"),
    (("nasi",), None),
])  # fmt: skip
def test_make_config_algorithms(args, message):
    if message:
        with pytest.raises(ValueError, match=message):
            make_config(*args)
    else:
        assert make_config(*args).steps == 100


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"steps": 0}, "steps must be >= 1"),
    ({"variant": "both"}, "unknown NASI variant"),
    ({"nu": -1.0}, "nu must be > 0"),
    ({"batch_size": 1}, "batch_size"),
    ({"stepz": 3}, "unknown nasi setting"),
    ({"mu": -2.0}, "mu must be >= 0"),
    ({"none_op": "never"}, "unknown none_op 'never'"),
])  # fmt: skip
def test_bad_nasi_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_search("nasi", device="cpu", accuracy=False, **kwargs)


def test_bad_search_arguments(params_proxy):
    with pytest.raises(ValueError, match="supports space nb201 only"):
        run_search("nasi", space="nats-sss", accuracy=False)
    with pytest.raises(ValueError, match="unknown search space"):
        run_search("nasi", space="nb101", accuracy=False)
    with pytest.raises(ValueError, match="unknown dataset"):
        run_search("nasi", dataset="mnist", accuracy=False)
    with pytest.raises(ValueError, match="seed"):
        run_search("nasi", seed=-1, accuracy=False)
    with pytest.raises(ValueError, match="at least one proxy"):
        run_search("sample", accuracy=False)
    with pytest.raises(ValueError, match="unknown proxy"):
        run_search("sample", proxies="nope", accuracy=False)
    with pytest.raises(ValueError, match="n must be >= 1"):
        run_search("sample", proxies="t_params", n=0, accuracy=False)
    with pytest.raises(ValueError, match="exceeds"):
        run_search("sample", proxies="t_params", n=20000, accuracy=False, device="cpu")


def test_cli_json_and_errors(capsys):
    tiny = ["--channels", "4", "--cells-per-stage", "1", "--batch-size", "8", "--data-mode", "gaussian",
            "--label-mode", "random", "--device", "cpu", "--no-accuracy"]  # fmt: skip
    assert main(["search", "nasi", "--seeds", "0-1", "--steps", "2", "--nu", "1", "--json", *tiny]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in doc["runs"]] == [0, 1]
    assert set(doc["runs"][0]) == {"seed", "index", "arch", "accuracy", "seconds", "device"}
    assert set(doc["summary"]) == set(ACCURACY_DATASETS)
    assert doc["summary"]["cifar10"] == {"mean": None, "std": None}

    assert main(["search", "nasi", "--steps", "0", *tiny]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "nasi-harness: error: steps must be >= 1, got 0"
    assert main(["search", "nasi", "--seeds", "x", *tiny]) == 2
    assert "bad seeds" in capsys.readouterr().err
    assert main(["search", "nasi", *tiny, "--data-mode", "noise"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(("flag", "key", "default", "value"), [
    (["--no-cell-bn-affine"], "cell_bn_affine", True, False),
    (["--none-op", "not-derived"], "none_op", "candidate", "not-derived"),
])  # fmt: skip
def test_cli_supernet_flags_reach_the_search(monkeypatch, capsys, flag, key, default, value):
    import harness.search as search  # the command imports run_search from here when it runs (lazily)

    seen = []
    real = search.run_search
    monkeypatch.setattr(search, "run_search", lambda *a, **kw: seen.append(kw[key]) or real(*a, **kw))
    tiny = ["--channels", "4", "--cells-per-stage", "1", "--batch-size", "8", "--data-mode", "gaussian",
            "--label-mode", "random", "--device", "cpu", "--no-accuracy", "--steps", "1", "--nu", "1"]  # fmt: skip
    tiny.append("--json")
    assert main(["search", "nasi", *tiny]) == 0
    assert main(["search", "nasi", *flag, *tiny]) == 0
    assert seen == [default, value]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["search", "nasi", "--none-op", "never", *tiny])
    assert "invalid choice: 'never'" in capsys.readouterr().err


# --- trace and selection ---------------------------------------------------------------------------------------


def test_trace_prefix_extension_and_selection_equal_direct_searches():
    """A T-step search equals the first T steps of a longer trace; extending a trace equals tracing at once."""
    from harness.search.nasi import NasiConfig, run_nasi, select, trace_nasi

    cpu = torch.device("cpu")
    short = NasiConfig(steps=2, nu_cells=2, **TINY)
    long = NasiConfig(steps=4, nu_cells=2, **TINY)
    direct = run_nasi(short, "cifar10", 7, cpu)
    full = trace_nasi(long, "cifar10", 7, cpu)
    assert select(full, short).alpha == direct.alpha
    extended = trace_nasi(long, "cifar10", 7, cpu, previous=trace_nasi(short, "cifar10", 7, cpu))
    assert (extended.scores, extended.grads, extended.choices) == (full.scores, full.grads, full.choices)
    assert extended.nu_estimate == full.nu_estimate
    with pytest.raises(ValueError, match="steps must be in"):
        select(full, short, steps=5)


def test_selecting_other_settings_from_a_trace_equals_searching_with_them():
    """search_table.py reads rows with a given nu, ADA, or 'none' never chosen off one FIX trace whose nu was estimated:
    the estimate draws from its own streams, so the sampled cells and gradients are those of the direct search."""
    from harness.search.nasi import NasiConfig, run_nasi, select, trace_nasi

    cpu = torch.device("cpu")
    trace = trace_nasi(NasiConfig(steps=3, nu_cells=2, **TINY), "cifar10", 5, cpu)
    settings_read_off = (
        {"nu": 0.5},
        {"variant": "ada", "nu": 2.0},
        {"nu": 0.5, "none_op": "not-derived"},
        {"nu": 0.5, "mu": 1.0, "none_op": "not-derived"},  # the held-out row's setting (mu = 1)
    )
    for settings in settings_read_off:
        config = NasiConfig(steps=3, **settings, **TINY)
        selected, direct = select(trace, config), run_nasi(config, "cifar10", 5, cpu)
        assert (selected.alpha, selected.arch) == (direct.alpha, direct.arch)


def test_select_applies_the_reward_slope_per_step():
    from harness.search.nasi import NasiConfig, NasiTrace, select

    g1 = [[0.0] * 5 for _ in range(6)]
    g2 = [[0.0] * 5 for _ in range(6)]
    g1[0][3] = 2.0  # step 1 (score 1): conv3x3 on edge 0; norm 2
    g2[0][2], g2[1][1] = 3.0, 4.0  # step 2 (score 10): conv1x1 on edge 0, skip on edge 1; norm 5
    trace = NasiTrace([[0] * 6, [0] * 6], [1.0, 10.0], [g1, g2], [0.1, 0.1], None, 0.0)
    below = select(trace, NasiConfig(steps=2, nu=100.0, mu=2.0))  # Delta = (G1 / 2 + G2 / 5) / 2
    assert (below.alpha[0][3], below.alpha[0][2], below.alpha[1][1]) == pytest.approx((0.5, 0.3, 0.4))
    assert below.arch.startswith("|nor_conv_3x3~0|+|skip_connect~0|none~1|")  # edge 1 is node 2 <- 0
    above = select(trace, NasiConfig(steps=2, nu=5.0, mu=2.0))  # step 2 is above nu: slope 1 - mu = -1
    assert (above.alpha[0][3], above.alpha[0][2], above.alpha[1][1]) == pytest.approx((0.5, -0.3, -0.4))
    assert above.arch.startswith("|nor_conv_3x3~0|+|none~0|none~1|")  # first of equal maxima
    assert select(trace, NasiConfig(steps=1, nu=5.0)).alpha[0][3] == pytest.approx(1.0)  # T = 1: G1 / ||G1||
    ada = select(trace, NasiConfig(steps=2, variant="ada", mu=2.0))  # nu_2 = mean(1, 10) = 5.5 < 10
    assert ada.alpha == above.alpha and ada.nu == 5.5
    with pytest.raises(ValueError, match="no nu estimate"):
        select(trace, NasiConfig(steps=2))


def test_select_none_op_conventions_only_change_the_final_arg_max():
    from harness.search.nasi import NasiConfig, NasiTrace, select

    g1 = [[0.0] * 5 for _ in range(6)]
    g2 = [[0.0] * 5 for _ in range(6)]
    g1[0][3] = 2.0
    g2[0][2], g2[1][1] = 3.0, 4.0
    trace = NasiTrace([[0] * 6, [0] * 6], [1.0, 10.0], [g1, g2], [0.1, 0.1], None, 0.0)
    candidate = select(trace, NasiConfig(steps=2, nu=5.0, mu=2.0))  # edge 1: alpha = [0, -0.4, 0, 0, 0]
    assert candidate.arch.startswith("|nor_conv_3x3~0|+|none~0|none~1|")
    for mode in ("not-derived", "excluded"):
        other = select(trace, NasiConfig(steps=2, nu=5.0, mu=2.0, none_op=mode))
        assert other.alpha == candidate.alpha  # the same aggregated step; only the choice skips 'none'
        skip = "skip_connect"  # first of equal maxima once 'none' is out; on edge 1 skip's alpha is -0.4
        assert other.arch == f"|nor_conv_3x3~0|+|nor_conv_1x1~0|{skip}~1|+|{skip}~0|{skip}~1|{skip}~2|"


def test_none_op_sampling():
    """not-derived samples exactly as candidate does; excluded never samples 'none' (zero probability, zero
    gradient) nor draws it for the nu cells, and its search never returns a cell with 'none'."""
    from harness.search.nasi import NasiConfig, select, trace_nasi

    cpu = torch.device("cpu")
    none = OP_NAMES.index("none")
    candidate = trace_nasi(NasiConfig(steps=4, nu_cells=2, **TINY), "cifar10", 3, cpu)
    not_derived = trace_nasi(NasiConfig(steps=4, nu_cells=2, none_op="not-derived", **TINY), "cifar10", 3, cpu)
    assert (not_derived.choices, not_derived.scores, not_derived.grads, not_derived.nu_estimate) == (
        candidate.choices, candidate.scores, candidate.grads, candidate.nu_estimate,
    )  # fmt: skip
    config = NasiConfig(steps=8, nu_cells=3, none_op="excluded", **TINY)
    excluded = trace_nasi(config, "cifar10", 3, cpu)
    assert all(none not in choice for choice in excluded.choices)
    grads = torch.tensor(excluded.grads)
    assert torch.isfinite(grads).all() and (grads[:, :, none] == 0).all() and grads.abs().sum() > 0
    assert excluded.nu_estimate > 0 and "none" not in select(excluded, config).arch


def test_reward_slope_at_the_constraint_is_unpenalised():
    from harness.search.nasi import reward_slope

    assert reward_slope(5.0, 2.0, 5.0) == 1.0
    assert reward_slope(5.0 + 1e-9, 2.0, 5.0) == -1.0
    assert reward_slope(4.0, 3.0, 5.0) == 1.0

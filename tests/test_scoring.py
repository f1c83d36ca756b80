"""The scoring engine: statuses, shared initial weights, determinism, SPECs, bad input."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from harness.proxies import base as proxy_base
from harness.proxies import register_proxy
from harness.scoring import score_cells
from harness.spaces import get_space
from harness.spaces.cells import parse_cells

SEEN_WEIGHTS: list[torch.Tensor] = []


@pytest.fixture
def test_proxies():
    """Temporary proxies exercising the engine's contract; removed from the registry afterwards."""
    names = ["t_first_weight", "t_nan", "t_raise", "t_mutate", "t_inf"]

    @register_proxy("t_first_weight", needs_labels=False)
    def first_weight(net, inputs, targets, ctx):
        w = next(net.parameters())
        SEEN_WEIGHTS.append(w.detach().clone())
        net(inputs).sum().backward()  # leaves grads and BN running stats behind
        return float(w.detach().flatten()[0])

    @register_proxy("t_nan", needs_labels=False)
    def nan(net, inputs, targets, ctx):
        return float("nan")

    @register_proxy("t_inf", needs_labels=False)
    def inf(net, inputs, targets, ctx):
        return -math.inf

    @register_proxy("t_raise", needs_labels=False)
    def boom(net, inputs, targets, ctx):
        raise RuntimeError("broken proxy\nsecond line")

    @register_proxy("t_mutate", needs_labels=False, mutates_net=True)
    def mutate(net, inputs, targets, ctx):
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(-3.0)
        return 1.0

    SEEN_WEIGHTS.clear()
    yield names
    for n in names:
        proxy_base.unregister_proxy(n)


def _score(cells, proxies, **kw):
    kw = {"data_mode": "gaussian", "label_mode": "random", "batch_size": 4, "device": "cpu", **kw}
    return list(score_cells("nb201", cells, proxies, **kw))


def test_statuses(test_proxies):
    records = _score([0], ["t_nan", "t_inf", "t_raise", "t_first_weight"])
    status = {r.proxy: r for r in records}
    assert status["t_nan"].status == "nan" and status["t_nan"].score is None
    assert status["t_inf"].status == "nan" and status["t_inf"].score is None
    assert status["t_raise"].status == "error: RuntimeError: broken proxy"
    assert status["t_raise"].score is None
    assert status["t_first_weight"].status == "ok" and status["t_first_weight"].score is not None


def test_degenerate_cell_is_flagged_and_keeps_a_finite_score(test_proxies):
    sp = get_space("nb201")
    degenerate = next(i for i in sp.indices() if sp.is_degenerate(i))
    (record,) = _score([degenerate], ["t_first_weight"])
    assert record.status == "degenerate"
    assert record.score is not None


def test_input_gradient_proxies_on_a_cell_that_ignores_its_input():
    """No path from the cell input to its output: the input Jacobian is 0, so jacov/epe_nas are undefined (nan),
    a final status, not an autograd error that every rerun would retry."""
    sp = get_space("nb201")
    cell = sp.resolve("|none~0|+|none~0|avg_pool_3x3~1|+|none~0|skip_connect~1|skip_connect~2|")
    records = list(score_cells("nb201", [cell], ["jacov", "epe_nas"], data_mode="gaussian", label_mode="random",
                               batch_size=4, device="cpu"))  # fmt: skip
    assert [r.status for r in records] == ["nan", "nan"]


def test_channels_last_is_the_same_function():
    """NHWC activations on CPU (the default) change float rounding only."""
    kwargs = dict(data_mode="gaussian", label_mode="random", batch_size=4, device="cpu")
    nhwc = [r.score for r in score_cells("nb201", [11, 284], ["nasi", "synflow"], **kwargs)]
    nchw = [r.score for r in score_cells("nb201", [11, 284], ["nasi", "synflow"], channels_last=False, **kwargs)]
    assert nhwc == pytest.approx(nchw, rel=1e-2)


def test_every_proxy_sees_the_same_initial_weights(test_proxies):
    _score([11], ["t_first_weight", "t_mutate", "t_first_weight"])
    assert len(SEEN_WEIGHTS) == 2
    assert torch.equal(SEEN_WEIGHTS[0], SEEN_WEIGHTS[1])


def test_state_is_restored_after_a_proxy_that_updates_buffers(test_proxies):
    a = _score([11], ["t_first_weight"])
    b = _score([11], ["t_mutate", "t_first_weight"])
    assert a[0].score == b[1].score


def test_deterministic_and_seed_dependent(test_proxies):
    one = [r.score for r in _score([0, 11, 284], ["t_first_weight"], seed=3)]
    two = [r.score for r in _score([0, 11, 284], ["t_first_weight"], seed=3)]
    other = [r.score for r in _score([0, 11, 284], ["t_first_weight"], seed=4)]
    assert one == two
    assert one != other


def test_skip_resumes_only_missing_units(test_proxies):
    records = _score([0, 11], ["t_first_weight", "t_nan"], skip=lambda i, p: (i, p) == (0, "t_nan"))
    assert [(r.index, r.proxy) for r in records] == [(0, "t_first_weight"), (11, "t_first_weight"), (11, "t_nan")]


def test_share_isomorphic_copies_scores(test_proxies):
    sp = get_space("nb201")
    key = sp.canonical(0)
    twins = [i for i in sp.indices() if sp.canonical(i) == key][:2]
    records = _score(twins, ["t_first_weight"], share_isomorphic=True)
    assert len(records) == 2 and records[0].score == records[1].score and records[1].seconds == 0.0


def test_record_fields(test_proxies):
    (r,) = _score(["|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"], ["t_nan"])
    assert (r.index, r.dataset, r.data, r.labels, r.batch_size, r.seed, r.device) == (
        11472,
        "cifar10",
        "gaussian",
        "random",
        4,
        0,
        "cpu",
    )


@pytest.mark.parametrize(
    "spec,expected",
    [("0,11,284", [0, 11, 284]), ("5-8", [5, 6, 7, 8]), ("all", list(range(15625)))],
)
def test_parse_cells(spec, expected):
    assert parse_cells(spec, "nb201") == expected


def test_parse_cells_sample_and_unique():
    a = parse_cells("sample:50:1", "nb201")
    assert len(a) == len(set(a)) == 50 and a == parse_cells("sample:50:1", "nb201")
    assert a != parse_cells("sample:50:2", "nb201")
    assert len(parse_cells("unique", "nb201")) == 6466
    assert len(parse_cells("unique", "nats-sss")) == 32768


@pytest.mark.parametrize("spec", ["", "sample:", "sample:0", "sample:x:1", "9-3", "0-15625", "1,,2", "abc", "3:4"])
def test_bad_specs(spec):
    with pytest.raises(ValueError) as info:
        parse_cells(spec, "nb201")
    assert "\n" not in str(info.value)


def test_unknown_proxy_and_device():
    with pytest.raises(ValueError, match="unknown proxy"):
        list(score_cells("nb201", [0], ["no_such_proxy"], data_mode="gaussian", label_mode="random"))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            list(score_cells("nb201", [0], [], device="cuda", data_mode="gaussian", label_mode="random"))


@pytest.mark.slow  # a fresh interpreter per case
@pytest.mark.parametrize(
    "argv,needle",
    [
        (["score", "nb201", "--proxies", "nope"], "unknown proxy 'nope'"),
        (["score", "nb201", "--proxies", "params", "--cells", "9-3"], "bad cell range"),
        (["space", "show", "nb201", "|nor_conv_3x3~0|"], "malformed arch string"),
        (["space", "show", "nats-sss", "8:8:8:8:9"], "channel 9 out of range"),
    ],
)
def test_cli_bad_input_is_one_error_line(argv, needle):
    proc = subprocess.run([sys.executable, "-m", "harness", *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr


@pytest.mark.slow  # a fresh interpreter per case
@pytest.mark.parametrize(
    "option, needle", [(["--batch-size", "0"], "batch size must be >= 1"), (["--stack", "0"], "stack must be >= 1")]
)
def test_score_cli_refuses_bad_options_before_writing(tmp_path, option, needle):
    out = tmp_path / "scores.csv"
    argv = ["score", "nb201", "--proxies", "nasi", "--cells", "0", "--data", "gaussian", "--labels", "random"]
    proc = subprocess.run([sys.executable, "-m", "harness", *argv, *option, "--out", str(out)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()  # no half-written file


def test_a_mutating_proxy_gets_the_initial_state_too(test_proxies):
    """A deep copy for a mutating proxy is taken from the initial state, not from what earlier proxies left:
    BN running statistics and gradients of a train-mode forward/backward must not leak into it."""
    seen: list[tuple[torch.Tensor, bool]] = []

    @register_proxy("t_mutate_sees", needs_labels=False, mutates_net=True)
    def sees(net, inputs, targets, ctx):
        bn = next(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
        seen.append((bn.running_var.clone(), any(p.grad is not None for p in net.parameters())))
        return 0.0

    try:
        _score([11], ["t_mutate_sees"])
        _score([11], ["t_first_weight", "t_mutate_sees"])  # t_first_weight leaves grads and BN stats behind
    finally:
        proxy_base.unregister_proxy("t_mutate_sees")
    (alone, alone_grads), (after, after_grads) = seen
    assert torch.equal(alone, after) and not alone_grads and not after_grads


def test_zen_does_not_depend_on_the_proxies_before_it():
    """zen reads the BN running variances after its own forwards: they must start from the initial buffers."""
    alone = _score([11, 284], ["zen"])
    after = _score([11, 284], ["nasi", "zen"])
    assert [r.score for r in alone] == [r.score for r in after if r.proxy == "zen"]


def test_a_proxy_that_swaps_tensors_out_of_their_slots_leaves_nothing_behind(test_proxies):
    """Restoring puts the built tensor objects back with their initial values, whatever a proxy replaced."""

    @register_proxy("t_swap", needs_labels=False)
    def swap(net, inputs, targets, ctx):
        bn = next(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
        bn.running_var = torch.full_like(bn.running_var, 5.0)
        conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
        conv.weight = torch.nn.Parameter(torch.zeros_like(conv.weight))
        with torch.no_grad():
            net.classifier.weight.data = net.classifier.weight.data * 7
        return 0.0

    @register_proxy("t_state", needs_labels=False)
    def state(net, inputs, targets, ctx):
        SEEN_WEIGHTS.extend(v.detach().clone() for v in net.state_dict().values())
        return 0.0

    try:
        _score([11], ["t_state"])
        alone = list(SEEN_WEIGHTS)
        SEEN_WEIGHTS.clear()
        _score([11], ["t_swap", "t_state"])
    finally:
        for name in ("t_swap", "t_state"):
            proxy_base.unregister_proxy(name)
    assert len(alone) == len(SEEN_WEIGHTS) and all(torch.equal(a, b) for a, b in zip(alone, SEEN_WEIGHTS))


def test_one_batch_group_takes_cells_as_they_come() -> None:
    """Under one batch (the harness protocol) a fed generator is read cell by cell, so a caller can time each cell
    of a running scorer (benchmarks/scripts/peer_speed.py); the paper protocol's groups list the cells first."""
    pulled: list[int] = []

    def feed():  # noqa: ANN202
        for index in (0, 1, 2):
            pulled.append(index)
            yield index

    records = score_cells("nb201", feed(), ["params"], data_mode="gaussian", label_mode="random", batch_size=2,
                          device="cpu")  # fmt: skip
    first = next(records)
    assert first.index == 0 and pulled == [0]
    assert [r.index for r in records] == [1, 2] and pulled == [0, 1, 2]

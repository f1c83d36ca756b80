"""The proxy contract (harness.proxies.contract) over every registered proxy, and proof that it catches each
kind of broken proxy (registered for one test only through ``temporary_proxy``)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from harness.proxies import get_proxy, proxy_names, temporary_proxy
from harness.proxies.contract import check_proxy, format_report

BATCH = 4
# ntk_trace needs B x classes backwards per call: the smallest batch keeps the module fast. vkdnw at batch 4 scores
# ~1e-11 on these cells (float noise, where the micro-batch split disagrees); at 8 its scores are well defined.
BATCH_OF = {"ntk_trace": 2, "vkdnw_entropy": 8}
# Proxies known to break the contract (an xfail each, strict). az_nas_trainability was one until its fix: on a cell
# whose output ignores its input it scored the reference epsilon's -999998; it now scores -inf (status nan).
KNOWN: dict[str, str] = {}
# The contract on these takes over ~5 s each (a Fisher or NTK per cell): the slow tier.
SLOW = {"ntk_trace", "vkdnw_entropy", "vkdnw_entropy_official", "vkdnw_lex"}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            n,
            marks=[
                *([pytest.mark.xfail(reason=KNOWN[n], strict=True)] if n in KNOWN else []),
                *([pytest.mark.slow] if n in SLOW else []),
            ],
        )
        for n in proxy_names()
    ],
)
def test_registered_proxy_meets_the_contract(name: str) -> None:
    report = check_proxy(name, batch_size=BATCH_OF.get(name, BATCH))
    assert report.ok, "\n".join(format_report(report))
    assert {c.name for c in report.checks} == {
        "finite", "degenerate", "deterministic", "labels", "bn_mode", "prunable", "splittable",
    }  # fmt: skip


def _failed(name: str) -> set[str]:
    return {c.name for c in check_proxy(name, batch_size=BATCH).failures()}


def _output_sum(net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: object) -> float:
    return net(x).sum().item()


@pytest.mark.parametrize(
    ("value", "message"),
    [(None, "returned NoneType"), ("1.5", "returned str"), (torch.ones(3), "tensor of shape (3,)")],
)
def test_bad_return_values_fail_finite_with_one_line(value: object, message: str) -> None:
    with temporary_proxy("tmp_bad", lambda net, x, y, ctx: value, needs_labels=False):
        report = check_proxy("tmp_bad", batch_size=BATCH)
    assert not report.ok and [c.name for c in report.checks] == ["finite"]
    assert message in report.checks[0].detail and "TypeError" in report.checks[0].detail
    assert "tmp_bad" not in proxy_names()  # the helper unregistered it


def test_zero_dim_tensor_is_accepted_as_its_item() -> None:
    with temporary_proxy("tmp_tensor", lambda net, x, y, ctx: net(x).sum(), needs_labels=False):
        assert check_proxy("tmp_tensor", batch_size=BATCH).ok


def test_undeclared_label_use_fails_labels() -> None:
    fn = lambda net, x, y, ctx: nn.functional.cross_entropy(net(x), y).item()  # noqa: E731
    with temporary_proxy("tmp_labels", fn, needs_labels=False):
        assert _failed("tmp_labels") == {"labels"}
    with temporary_proxy("tmp_labels", fn, needs_labels=True):
        assert _failed("tmp_labels") == set()


def test_nondeterminism_fails_deterministic() -> None:
    counter = itertools.count()
    with temporary_proxy("tmp_counter", lambda net, x, y, ctx: float(next(counter)) + 1.0, needs_labels=False):
        assert "deterministic" in _failed("tmp_counter")


def test_mode_switch_and_weight_change_fail_bn_mode() -> None:
    def leaves_eval(net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: object) -> float:
        net.eval()
        return _output_sum(net, x, y, ctx)

    def scales_weights(net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: object) -> float:
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(2.0)
        return _output_sum(net, x, y, ctx)

    with temporary_proxy("tmp_eval", leaves_eval, needs_labels=False):
        assert _failed("tmp_eval") == {"bn_mode"}
    with temporary_proxy("tmp_scale", scales_weights, needs_labels=False):
        assert _failed("tmp_scale") == {"bn_mode"}
    with temporary_proxy("tmp_scale", scales_weights, needs_labels=False, mutates_net=True):
        assert _failed("tmp_scale") == set()


def test_false_prunable_and_splittable_declarations_fail() -> None:
    def conv_calls(net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: object) -> float:
        calls = []
        hooks = [m.register_forward_hook(lambda *a: calls.append(1)) for m in net.modules() if isinstance(m, nn.Conv2d)]
        net(x)
        for h in hooks:
            h.remove()
        return float(len(calls))

    def batch_dependent(net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: object) -> float:
        micro = getattr(ctx, "micro_batch", None) or x.shape[0]
        return net(x[:micro]).sum().item()

    with temporary_proxy("tmp_prune", conv_calls, needs_labels=False, prunable=True):
        assert _failed("tmp_prune") == {"prunable"}  # dead edges' convolutions are counted
    with temporary_proxy("tmp_split", batch_dependent, needs_labels=False, splittable=True):
        assert _failed("tmp_split") == {"splittable"}


def test_sentinel_on_the_degenerate_cell_fails() -> None:
    def sentinel(net: nn.Module, x: torch.Tensor, y: torch.Tensor, ctx: object) -> float:
        out = net(x)
        return -1e12 if out.std(dim=0).max().item() < 1e-6 else out.abs().mean().item()

    with temporary_proxy("tmp_sentinel", sentinel, needs_labels=False):
        assert _failed("tmp_sentinel") == {"degenerate"}


def test_temporary_proxy_unregisters_on_error_and_refuses_builtin_names() -> None:
    with pytest.raises(RuntimeError), temporary_proxy("tmp_boom", _output_sum, needs_labels=False):
        raise RuntimeError("inside")
    assert "tmp_boom" not in proxy_names()
    with pytest.raises(ValueError, match="built-in proxy"), temporary_proxy("snip", _output_sum, needs_labels=False):
        pass
    assert get_proxy("snip").builtin


def test_engine_records_a_refused_return_value_as_an_error_status() -> None:
    from harness.scoring import score_cells

    with temporary_proxy("tmp_text", lambda net, x, y, ctx: "0.5", needs_labels=False):
        (record,) = score_cells("nb201", [0], ["tmp_text"], data_mode="gaussian", label_mode="random", batch_size=2,
                                device="cpu")  # fmt: skip
    assert (
        record.score is None
        and record.status == "error: TypeError: proxy 'tmp_text' returned str '0.5'; expected a float"
    )

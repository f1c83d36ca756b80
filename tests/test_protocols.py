"""Scoring protocols: declarations, the engine under ``paper``, study keys, stored rows, analysis rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from harness.analysis.frames import higher_is_better, prepare, score_table, settings
from harness.analysis.protocols import base_name, protocol_settings
from harness.data import make_batch
from harness.proxies import get_proxy, proxy_names, temporary_proxy
from harness.proxies.protocol import (
    AUGMENTED,
    AZ_NAS_DRIVER,
    PaperProtocol,
    effective,
    repeat_seed,
    table_one,
    table_one_protocol,
)
from harness.scoring import score_cells
from harness.spaces import get_space
from harness.store import ResultStore, load_units
from harness.studies import StudyError, make_plan, parse_study, run_study

STUDY = """
[study]
name = "protocols"
space = "nb201"
cells = "0,7"
proxies = {proxies}
datasets = ["cifar10"]
data_modes = {data_modes}
label_modes = ["random"]
seeds = [0]
batch_size = 8
device = "cpu"
protocol = {protocol}

[output]
dir = "{out}"
"""


def study(tmp_path, proxies='["grad_norm", "params"]', data_modes='["gaussian"]', protocol='["harness", "paper"]'):
    text = STUDY.format(proxies=proxies, data_modes=data_modes, protocol=protocol, out=tmp_path.as_posix())
    import tomllib

    return parse_study(tomllib.loads(text), where="protocols.toml")


# -- declarations ----------------------------------------------------------------------------------------------------


def test_protocol_validates_its_fields():
    with pytest.raises(ValueError, match="init 'xavier'"):
        PaperProtocol(source="x/y f.py@1", init="xavier")
    with pytest.raises(ValueError, match="source"):
        PaperProtocol(source="")
    with pytest.raises(ValueError, match="repeats"):
        PaperProtocol(source="x/y f.py@1", repeats=0)
    with pytest.raises(ValueError, match="unknown fields"):
        PaperProtocol(source="x/y f.py@1", unconfirmed=("colour",))


def test_effective_replaces_only_the_fixed_fields_and_is_idempotent():
    decl = PaperProtocol(source="x/y f.py@1", data="gaussian", batch_size=64)
    once = effective(decl, "paper", "real", "true", 8)
    assert (once.data, once.labels, once.batch_size, once.protocol) == ("gaussian", "true", 64, "paper")
    assert effective(decl, "paper", once.data, once.labels, once.batch_size) == once
    assert effective(decl, "harness", "real", "true", 8).data == "real"
    assert effective(None, "paper", "real", "true", 8).batch_size == 8
    with pytest.raises(ValueError, match="unknown protocol"):
        effective(decl, "papers", "real", "true", 8)


TABLE_ONE = ("flops", "grad_norm", "grasp", "snip", "synflow", "jacov", "nwot", "zen", "zico", "ntk_cond",
             "te_nas_linear_regions", "az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability",
             "az_nas_complexity", "vkdnw_entropy", "vkdnw_dim", "vkdnw_lex")  # fmt: skip


def test_table_one_protocol_states_the_drivers_settings_once():
    """The constructor gives what a written-out declaration gives: b = 64, Kaiming fan-in, the driver cited, the
    augmentation deviation on training images only; a proxy's own values replace those."""
    real = table_one_protocol("snip", data="real", labels="true")
    assert real == PaperProtocol(source=f"{table_one('snip')}; {AZ_NAS_DRIVER}", data="real", labels="true",
                            batch_size=64, init="kaiming_normal_fanin", deviations=AUGMENTED)  # fmt: skip
    noise = table_one_protocol("synflow", data="gaussian", init="default", driver=False, notes="n")
    assert (noise.source, noise.deviations, noise.init, noise.notes) == (table_one("synflow"), "", "default", "n")
    assert get_proxy("snip").protocol.source == real.source  # the modules use it


@pytest.mark.parametrize("name", [n for n in TABLE_ONE if n in proxy_names()])
def test_table_one_proxies_declare_a_cited_protocol(name):
    decl = get_proxy(name).protocol
    assert decl is not None and "@" in decl.source, f"{name}: no declaration with a commit-pinned source"


# Each declaration's fingerprint (its scoring fields outside the key: init, repeats, BN mode...) under the proxy
# version it was made with: such a change without a version bump fails here (stored paper rows would otherwise mix
# two settings under one key). After bumping the version, record the new pair.
PINNED = {
    "az_nas_complexity": (1, "ec32a1cccf47"),
    "az_nas_expressivity": (1, "8cbc05daef20"),
    "az_nas_progressivity": (1, "8cbc05daef20"),
    "az_nas_sum": (2, "8cbc05daef20"),
    "az_nas_trainability": (2, "8cbc05daef20"),
    "epe_nas": (1, "ec32a1cccf47"),
    "fisher": (1, "ec32a1cccf47"),
    "flops": (1, "ec32a1cccf47"),
    "grad_norm": (1, "5ee2879b68d6"),
    "grasp": (3, "5ee2879b68d6"),
    "jacov": (1, "5ee2879b68d6"),
    "l2_norm": (1, "ec32a1cccf47"),
    "meco": (1, "ec32a1cccf47"),
    "nasi": (1, "ec32a1cccf47"),
    "ntk_cond": (1, "ec32a1cccf47"),
    "nwot": (1, "5ee2879b68d6"),
    "params": (1, "ec32a1cccf47"),
    "plain": (1, "ec32a1cccf47"),
    "snip": (1, "5ee2879b68d6"),
    "swap": (1, "d5c63bbe0f61"),
    "swap_reg": (1, "d5c63bbe0f61"),
    "synflow": (1, "5ee2879b68d6"),
    "te_nas_linear_regions": (1, "ec32a1cccf47"),
    "te_nas_log_ratio": (1, "ec32a1cccf47"),
    "vkdnw_dim": (1, "8cbc05daef20"),
    "vkdnw_entropy": (1, "8cbc05daef20"),
    "vkdnw_entropy_official": (2, "8cbc05daef20"),
    "vkdnw_lex": (1, "8cbc05daef20"),
    "zen": (1, "5269809f6d4d"),
    "zico": (1, "ec32a1cccf47"),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_declaration_changes_bump_the_version(name):
    if name not in proxy_names():
        pytest.skip(f"{name} is not registered in this build")
    spec = get_proxy(name)
    version, fingerprint = PINNED[name]
    if spec.version == version:
        assert spec.protocol.fingerprint() == fingerprint, f"{name}: declaration changed: bump its version"


# -- the engine ------------------------------------------------------------------------------------------------------


def test_paper_nwot_is_the_official_formula_written_out():
    """VKDNW's Table 1 NASWOT (compute_naswot_score.py): Kaiming-normal fan-in weights, BN affine 1/0, 64 N(0, 1)
    inputs, train mode, K = sum over ReLU inputs of c c^T + (1-c)(1-c)^T, log|det K| -- written out here."""
    index, seed = 7, 0
    (record,) = score_cells("nb201", [index], ["nwot"], data_mode="real", label_mode="random", batch_size=8, seed=seed,
                            protocol="paper", channels_last=False)  # fmt: skip
    assert (record.protocol, record.data, record.batch_size, record.status) == ("paper", "gaussian", 64, "ok")

    torch.manual_seed(seed)
    net = get_space("nb201").build(index, "cifar10")
    gen = torch.Generator().manual_seed(seed)  # the harness draws the official init from the unit's seed
    with torch.no_grad():
        for m in net.modules():  # the official kaiming_normal_fanin_init, module by module
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu", generator=gen)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()
    x = make_batch("cifar10", 64, "gaussian", "random", seed).inputs
    kernel = np.zeros((64, 64))

    def hook(module, inp, out):
        c = (inp[0].detach().reshape(64, -1) > 0).double()
        kernel[:] += (c @ c.T + (1 - c) @ (1 - c).T).numpy()

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    net.train()
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    official = np.linalg.slogdet(kernel)[1]
    assert record.score == pytest.approx(official, rel=1e-9)


def test_repeats_average_fresh_draws():
    """Three repeats with a fresh N(0, 1) init each: the mean of the three draws' scores."""

    def first_weight(net, inputs, targets, ctx):
        return float(next(m for m in net.modules() if isinstance(m, nn.Conv2d)).weight.detach().flatten()[0])

    decl = PaperProtocol(source="test", data="gaussian", batch_size=4, repeats=3, redraw=("init",), init="normal")
    with temporary_proxy("t_repeat", first_weight, needs_labels=False, protocol=decl):
        (paper,) = score_cells("nb201", [3], ["t_repeat"], data_mode="gaussian", label_mode="random", batch_size=2,
                               protocol="paper")  # fmt: skip
        (harness,) = score_cells("nb201", [3], ["t_repeat"], data_mode="gaussian", label_mode="random",
                                 batch_size=2)  # fmt: skip
    shape = next(m for m in get_space("nb201").build(3).modules() if isinstance(m, nn.Conv2d)).weight.shape
    draws = [torch.empty(shape).normal_(0.0, 1.0, generator=torch.Generator().manual_seed(repeat_seed(0, r)))
             for r in range(3)]  # fmt: skip
    assert paper.score == pytest.approx(float(np.mean([float(d.flatten()[0]) for d in draws])), rel=1e-6)
    assert (paper.batch_size, harness.batch_size, harness.protocol) == (4, 2, "harness")
    assert harness.score != pytest.approx(paper.score)


def test_score_groups_proxies_by_their_paper_batch():
    records = score_cells("nb201", [5], ["grad_norm", "params"], data_mode="gaussian", label_mode="random",
                          batch_size=8, protocol="paper")  # fmt: skip
    got = {r.proxy: (r.data, r.labels, r.batch_size, r.protocol) for r in records}
    assert got["grad_norm"] == ("gaussian", "random", 64, "paper")
    assert got["params"] == ("gaussian", "random", 8, "paper")


# -- studies ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, message",
    [('"papers"', "unknown value 'papers'"), ('["paper", "paper"]', "listed twice"), ("3", "list of strings")],
)
def test_study_protocol_key_errors(tmp_path, value, message):
    with pytest.raises(StudyError, match=message):
        study(tmp_path, protocol=value)


def test_paper_units_that_resolve_alike_are_one_unit(tmp_path):
    st = study(tmp_path, proxies='["grad_norm"]', data_modes='["gaussian", "uniform"]', protocol='"paper"')
    plan = make_plan(st, set())
    assert st.total_units == 4 and plan.total == 2 and plan.merged == 2  # 2 cells x 2 modes -> 2 cells
    (shard,) = plan.shards
    assert (shard.data_mode, shard.label_mode, shard.batch_size, shard.protocol) == ("gaussian", "random", 64, "paper")


def test_both_protocols_live_in_one_store_and_resume(tmp_path):
    st = study(tmp_path)
    first = run_study(st, report=False, progress=False, log=lambda m: None)
    assert first.ran == 8 and not first.failed
    rows = load_units(st.store_path)
    keys = set(zip(rows["proxy"], rows["protocol"], rows["data"], rows["labels"], rows["batch_size"]))
    assert keys == {
        ("grad_norm", "harness", "gaussian", "random", 8),
        ("params", "harness", "gaussian", "random", 8),
        ("grad_norm", "paper", "gaussian", "random", 64),
        ("params", "paper", "gaussian", "random", 8),
    }
    again = run_study(st, report=False, progress=False, log=lambda m: None)
    assert (again.done_before, again.ran) == (8, 0)
    with ResultStore(st.store_path, readonly=True) as db:
        assert {k.protocol for k in db.done_keys("protocols")} == {"harness", "paper"}
        declared = db.study_config("protocols")["paper_protocols"]
    assert "VKDNW" in declared["grad_norm"]["source"] and declared["grad_norm"]["settings"].startswith("data gaussian")


# -- analysis --------------------------------------------------------------------------------------------------------


def _rows(proxy, protocol, data, batch, scores):
    return pd.DataFrame({"index": range(len(scores)), "proxy": proxy, "dataset": "cifar10", "data": data,
                         "labels": "true", "batch_size": batch, "seed": 0, "score": scores, "status": "ok",
                         "space": "nb201", "protocol": protocol})  # fmt: skip


def test_analysis_keeps_protocols_apart():
    frame = pd.concat([
        _rows("nwot", "harness", "real", 64, [1.0, 2.0, 3.0]),
        _rows("nwot", "paper", "real", 64, [3.0, 2.0, 1.0]),  # same key but the protocol: must not replace the above
        _rows("grad_norm", "paper", "gaussian", 64, [1.0, 1.5, 2.0]),
        _rows("zico", "paper", "real", 128, [2.0, 1.0, 0.0]),
    ], ignore_index=True)  # fmt: skip
    prepared = prepare(frame)
    names = set(prepared["proxy"])
    assert names == {"nwot", "nwot [paper]", "grad_norm [paper]", "zico [paper]"}
    by_setting = {(s.data, s.labels, s.batch_size): set(rows["proxy"]) for s, rows in settings(prepared)}
    assert by_setting == {("real", "true", 64): {"nwot"},
                          ("paper", "paper", -1): {"nwot [paper]", "grad_norm [paper]", "zico [paper]"}}  # fmt: skip
    paper = next(rows for s, rows in settings(prepared) if s.data == "paper")
    assert list(score_table(paper)["nwot [paper]"]) == [3.0, 2.0, 1.0]
    assert base_name("grad_norm [paper]") == "grad_norm" and higher_is_better("ntk_cond [paper]") is False


def test_a_paper_proxy_with_several_rows_per_cell_keeps_its_settings():
    frame = pd.concat([_rows("vkdnw_entropy", "paper", "real", 64, [1.0, 2.0]),
                       _rows("vkdnw_entropy", "paper", "gaussian", 64, [2.0, 1.0]),
                       _rows("grad_norm", "paper", "gaussian", 64, [1.0, 2.0])], ignore_index=True)  # fmt: skip
    moved = protocol_settings(frame)
    assert set(moved.loc[moved["proxy"] == "vkdnw_entropy", "data"]) == {"real", "gaussian"}
    assert set(moved.loc[moved["proxy"] == "grad_norm", "data"]) == {"paper"}
    assert protocol_settings(moved).equals(moved)


def test_score_cli_writes_the_protocol_and_the_settings_used(tmp_path, capsys):
    from harness.cli import main

    out = tmp_path / "paper.csv"
    args = ["score", "nb201", "--proxies", "grad_norm,params", "--cells", "2", "--data", "gaussian", "--labels",
            "random", "--batch-size", "8", "--protocol", "paper", "--device", "cpu", "--out", str(out)]  # fmt: skip
    code = main(args)
    assert code == 0
    rows = pd.read_csv(out)
    assert set(zip(rows["proxy"], rows["batch_size"], rows["protocol"])) == {("grad_norm", 64, "paper"),
                                                                             ("params", 8, "paper")}  # fmt: skip


def test_plan_says_how_many_units_were_merged(tmp_path):
    st = study(tmp_path, proxies='["grad_norm"]', data_modes='["gaussian", "uniform"]', protocol='["paper"]')
    text = make_plan(st, set()).describe()
    assert "2 units" in text and "1 protocols" in text and "2 asked for resolve under the paper protocol" in text


def test_a_declared_init_does_not_leak_into_the_next_proxy_of_the_cell():
    """Two proxies on one batch: the first re-drawn Kaiming-normal by the engine, the second declared with the
    default init must see the weights as built, exactly as under the harness protocol."""

    def first_weight(net, inputs, targets, ctx):
        return float(next(m for m in net.modules() if isinstance(m, nn.Conv2d)).weight.detach().flatten()[0])

    kaiming = PaperProtocol(source="test", init="kaiming_normal_fanin")
    plain = PaperProtocol(source="test", repeats=2, redraw=("batch",))  # same weights twice: the mean is that weight
    with temporary_proxy("t_kaiming", first_weight, needs_labels=False, protocol=kaiming), \
            temporary_proxy("t_plain", first_weight, needs_labels=False, protocol=plain):  # fmt: skip
        kwargs = dict(data_mode="gaussian", label_mode="random", batch_size=2)
        paper = {r.proxy: r.score for r in score_cells("nb201", [4], ["t_kaiming", "t_plain"], protocol="paper",
                                                        **kwargs)}  # fmt: skip
        harness = {r.proxy: r.score for r in score_cells("nb201", [4], ["t_kaiming", "t_plain"], **kwargs)}
    assert paper["t_plain"] == harness["t_plain"] == harness["t_kaiming"]
    assert paper["t_kaiming"] != harness["t_kaiming"]


def test_declared_bn_mode_and_an_input_size_the_harness_cannot_honour():
    def training(net, inputs, targets, ctx):
        return float(net.training)

    kwargs = dict(data_mode="gaussian", label_mode="random", batch_size=2)
    with temporary_proxy("t_bn", training, needs_labels=False, protocol=PaperProtocol(source="test", bn_mode="eval")):
        assert [r.score for r in score_cells("nb201", [1], ["t_bn"], protocol="paper", **kwargs)] == [0.0]
        assert [r.score for r in score_cells("nb201", [1], ["t_bn"], **kwargs)] == [1.0]
    with temporary_proxy("t_px", training, needs_labels=False, protocol=PaperProtocol(source="test", input_size=224)):
        with pytest.raises(ValueError, match="224 px"):
            next(score_cells("nb201", [1], ["t_px"], protocol="paper", **kwargs))
        assert [r.score for r in score_cells("nb201", [1], ["t_px"], **kwargs)] == [1.0]

"""Stacked scoring: K NB201 networks as one computation give each network's own weights and nasi score."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data import make_batch
from harness.proxies.nasi import nasi_stacked
from harness.scoring import score_cells
from harness.scoring.stacked import score_stack
from harness.spaces import get_space
from harness.spaces.nb201 import NB201_CHANNELS
from harness.spaces.stacked import StackedNetworks, draw_weights
from harness.store import load_units
from harness.studies import load_study, run_study

NB201 = get_space("nb201")
DEGENERATE = next(i for i in range(200) if NB201.is_degenerate(i))
CLASSES = {"cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
KW = dict(data_mode="gaussian", label_mode="random", batch_size=4, device="cpu")


def _built_tensors(net: torch.nn.Module) -> list[torch.Tensor]:
    """Every randomly initialised tensor of a built network, in construction order."""
    convs = [m.weight for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    return [*convs, net.classifier.weight, net.classifier.bias]


def _drawn_tensors(w) -> list[torch.Tensor]:
    blocks = [t for block in w.blocks for t in block if t is not None]
    return [w.stem, *blocks, w.classifier_weight, w.classifier_bias]


@settings(max_examples=8, deadline=None)
@given(cell=st.integers(0, 15624), seed=st.integers(0, 2**31 - 1), dataset=st.sampled_from(sorted(CLASSES)))
def test_drawn_weights_equal_the_built_network_bit_for_bit(cell, seed, dataset):
    torch.manual_seed(seed)
    built = _built_tensors(NB201.build(cell, dataset))
    after_build = torch.get_rng_state()
    torch.manual_seed(seed)
    drawn = _drawn_tensors(draw_weights(NB201.genotype(cell), NB201_CHANNELS, CLASSES[dataset]))
    assert torch.equal(torch.get_rng_state(), after_build)
    assert len(built) == len(drawn) and all(torch.equal(a, b) for a, b in zip(built, drawn))


@settings(max_examples=5, deadline=None)
@given(cells=st.lists(st.integers(0, 15624), min_size=1, max_size=5), dataset=st.sampled_from(sorted(CLASSES)))
def test_stacked_nasi_equals_per_cell_nasi(cells, dataset):
    cells = [*cells, DEGENERATE]  # a cell whose every path is cut: its network ignores the input
    per_cell = list(score_cells("nb201", cells, ["nasi"], dataset=dataset, channels_last=False, **KW))
    stacked = list(score_cells("nb201", cells, ["nasi"], dataset=dataset, stack=len(cells), **KW))
    assert [(r.index, r.status) for r in stacked] == [(r.index, r.status) for r in per_cell]
    for a, b in zip(per_cell, stacked):
        assert b.score == pytest.approx(a.score, rel=1e-5, abs=1e-12)


def test_engine_mixes_stacked_and_per_cell_proxies_and_resumes():
    cells = [0, 11, 284, 1462, 7777]
    plain = {(r.index, r.proxy): r for r in score_cells("nb201", cells, ["nasi", "params"], channels_last=False, **KW)}
    skip = {(11, "nasi"), (284, "params")}
    got = list(score_cells("nb201", cells, ["nasi", "params"], stack=2, skip=lambda i, p: (i, p) in skip, **KW))
    assert sorted((r.index, r.proxy) for r in got) == sorted(set(plain) - skip)
    for r in got:
        assert r.score == pytest.approx(plain[(r.index, r.proxy)].score, rel=1e-5)
        assert r.status == plain[(r.index, r.proxy)].status and r.seconds >= 0


def _batch(size: int = 4):
    b = make_batch("cifar10", size, "gaussian", "random", 0, None)
    return b.inputs, b.targets


def test_a_non_finite_network_does_not_touch_the_others():
    cells = [0, 11, 1462]
    weights = []
    for c in cells:
        torch.manual_seed(0)
        weights.append(draw_weights(NB201.genotype(c), NB201_CHANNELS, 10))
    genotypes = [NB201.genotype(c) for c in cells]
    inputs, targets = _batch()
    clean = nasi_stacked(StackedNetworks(genotypes, NB201_CHANNELS, weights), inputs, targets)
    weights[1].classifier_weight[0, 0] = math.inf
    broken = nasi_stacked(StackedNetworks(genotypes, NB201_CHANNELS, weights), inputs, targets)
    assert not math.isfinite(broken[1]) and torch.equal(broken[[0, 2]], clean[[0, 2]])


def test_out_of_memory_splits_the_stack(monkeypatch):
    inputs, targets = _batch()
    sizes: list[int] = []

    def picky(nets, x, y):
        sizes.append(nets.size)
        if nets.size > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return nasi_stacked(nets, x, y)

    cells = [0, 11, 284, 1462, 7777]
    results = score_stack(NB201, cells, picky, inputs, targets, num_classes=10, seed=0)
    assert sizes[:3] == [5, 2, 3] and [len(r.scores) for r in results] == [2, 1, 2]
    whole = score_stack(NB201, cells, nasi_stacked, inputs, targets, num_classes=10, seed=0)[0].scores
    assert [s for r in results for s in r.scores] == pytest.approx(whole, rel=1e-6)

    def never(nets, x, y):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    (last,) = score_stack(NB201, [0], never, inputs, targets, num_classes=10, seed=0)
    assert last.scores == [None] and last.statuses[0].startswith("error: out of memory")


@pytest.mark.parametrize(
    "kw, needle",
    [
        ({"stack": 0}, "stack must be >= 1"),
        ({"stack": 2, "share_isomorphic": True}, "cannot be combined"),
    ],
)
def test_bad_stack_options(kw, needle):
    with pytest.raises(ValueError, match=needle):
        list(score_cells("nb201", [0, 1], ["nasi"], **{**KW, **kw}))


def test_stack_needs_shared_widths():
    with pytest.raises(ValueError, match="share their widths"):
        list(score_cells("nats-sss", [0, 1], ["nasi"], stack=2, **KW))
    # proxies without a stacked form simply run per cell
    assert len(list(score_cells("nats-sss", [0, 1], ["params"], stack=2, **KW))) == 2


def test_cli_stack_is_validated_in_one_line(tmp_path):
    study = tmp_path / "s.toml"
    study.write_text('[study]\nname = "s"\nspace = "nb201"\ncells = "0-1"\nproxies = ["nasi"]\ndatasets = ["cifar10"]\n'
                     'data_modes = ["gaussian"]\nlabel_modes = ["random"]\nseeds = [0]\n')  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "harness", "run", str(study), "--stack", "0"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode != 0 and "expected a positive integer, got '0'" in proc.stderr


def test_a_study_with_stack_stores_the_same_scores(tmp_path):
    body = ('[study]\nname = "st"\nspace = "nb201"\ncells = "0-4"\nproxies = ["nasi", "params"]\n'
            'datasets = ["cifar10"]\ndata_modes = ["gaussian"]\nlabel_modes = ["random"]\nseeds = [0]\n'
            'batch_size = 4\ndevice = "cpu"\n{extra}[output]\ndir = "{out}"\n')  # fmt: skip
    frames = []
    for name, extra in (("one", ""), ("stacked", "stack = 3\n")):
        path = Path(tmp_path / f"{name}.toml")
        path.write_text(body.format(extra=extra, out=tmp_path / name))
        study = load_study(path)
        assert study.stack == (3 if extra else 1)
        run_study(study, progress=False, report=False, log=lambda _: None)
        frames.append(load_units(study.store_path).set_index(["index", "proxy"]).sort_index())
    one, stacked = frames
    assert list(one.index) == list(stacked.index) and (one.status == stacked.status).all()
    assert stacked.score.to_numpy() == pytest.approx(one.score.to_numpy(), rel=1e-5)


@pytest.mark.slow  # the NTK trace of every cell twice
@pytest.mark.parametrize("chunk", [1, 3])
def test_stacked_ntk_trace_equals_per_cell_ntk_trace(monkeypatch, chunk):
    """One backward per logit row serves every stacked network; batched rows (as on a GPU) sum the same."""
    import harness.proxies.ntk_trace as ntk_trace_module

    monkeypatch.setattr(ntk_trace_module, "stacked_chunk", lambda device, networks: chunk)
    cells = [0, 11, 3, DEGENERATE]
    kw = {**KW, "batch_size": 2, "channels_last": False}
    per_cell = list(score_cells("nb201", cells, ["ntk_trace"], **kw))
    stacked = list(score_cells("nb201", cells, ["ntk_trace"], stack=len(cells), **kw))
    assert [(r.index, r.status) for r in stacked] == [(r.index, r.status) for r in per_cell]
    for a, b in zip(per_cell, stacked):
        assert b.score == pytest.approx(a.score, rel=1e-6)


@pytest.mark.slow  # the NTK condition number of every cell twice
@pytest.mark.parametrize("chunk", [1, 3])
def test_stacked_ntk_cond_equals_per_cell_ntk_cond(monkeypatch, chunk):
    """B backwards (one per sample's logit sum) give every stacked network its TE-NAS rows; Grams per network."""
    import harness.proxies.ntk_cond as ntk_cond_module

    monkeypatch.setattr(ntk_cond_module, "stacked_chunk", lambda device, networks: chunk)
    cells = [0, 11, 3, 1462, DEGENERATE]
    kw = {**KW, "batch_size": 5, "channels_last": False}
    per_cell = list(score_cells("nb201", cells, ["ntk_cond"], **kw))
    stacked = list(score_cells("nb201", cells, ["ntk_cond"], stack=len(cells), **kw))
    assert [(r.index, r.status) for r in stacked] == [(r.index, r.status) for r in per_cell]
    assert per_cell[-1].status == "nan" and sum(r.status == "ok" for r in per_cell) == len(cells) - 1
    assert stacked[-1].score is None
    for a, b in zip(per_cell[:-1], stacked[:-1]):
        assert b.score == pytest.approx(a.score, rel=1e-4)


def test_weight_groups_are_te_nas_parameter_set():
    """The stacked weight groups hold, per network, as many numbers as the per-cell parameters named *weight*."""
    sp = get_space("nb201")
    cells = [0, 11, 1462]
    torch.manual_seed(0)
    weights = [draw_weights(sp.genotype(i), NB201_CHANNELS, 10) for i in cells]
    nets = StackedNetworks([sp.genotype(i) for i in cells], NB201_CHANNELS, weights)
    groups = nets.parameter_groups()
    for k, i in enumerate(cells):
        net = sp.build(i, "cifar10", prune=True)  # dead edges: modules built, never used, so no gradient
        net(torch.randn(2, 3, 32, 32)).sum().backward()
        expected = sum(p.numel() for n, p in net.named_parameters() if "weight" in n and p.grad is not None)
        got = sum(groups[g][0].numel() // len(groups[g][1]) for g in nets.weight_groups() if k in groups[g][1])
        assert got == expected


def test_stacked_row_chunk_shrinks_with_the_stack():
    from harness.proxies._ntk import stacked_chunk

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert [stacked_chunk(cuda, k) for k in (1, 4, 16, 64)] == [32, 8, 2, 1]
    assert stacked_chunk(cpu, 4) == 1

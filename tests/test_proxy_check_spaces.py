"""``nasi-harness proxy check --space`` (harness.proxies.contract on any registered space): a plugin space written
by the test, the docs' example space, the NATS size space; one error line for a space the contract cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness import plugins
from harness.cli import main
from harness.proxies.contract import ContractError, check_proxy, contract_cells
from harness.spaces import base as space_base

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_PROXY = REPO / "docs" / "examples" / "logit_spread.py"
EXAMPLE_SPACE = REPO / "docs" / "examples" / "toy_space.py"

# Five cells: a linear classifier on 2, 4, 8 or 16 pooled channels, and "zero", whose output ignores its input
# (the space names it through is_degenerate).
TINY_SPACE = """
import torch
from torch import nn

from harness.spaces import Cost, SearchSpace, register_space

CELLS = ("c2", "c4", "c8", "c16", "zero")


class Net(nn.Module):
    def __init__(self, width, classes, zero):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.bn = nn.BatchNorm2d(width)
        self.fc = nn.Linear(width, classes)
        self.zero = zero

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3))
        return self.fc(h * 0.0 if self.zero else h)


@register_space("{name}")
class Tiny(SearchSpace):
    arch_form = "one of " + ", ".join(CELLS)

    def __len__(self):
        return len(CELLS)

    def arch(self, index):
        return CELLS[index]

    def _index_of(self, arch):
        if arch not in CELLS:
            raise ValueError(f"unknown tiny cell {{arch!r}}; expected {{self.arch_form}}")
        return CELLS.index(arch)

    def build(self, cell, dataset="cifar10", prune=False):
        {build}

    def cost(self, cell, dataset="cifar10"):
        return Cost(0.001 * (self.resolve(cell) + 1), 0.01)

    def is_degenerate(self, cell):
        return CELLS[self.resolve(cell)] == "zero"
"""
BUILD = "arch = CELLS[self.resolve(cell)]; return Net(int(arch[1:]) if arch != 'zero' else 4, 10, arch == 'zero')"

PROXIES = """
import torch

from harness.proxies import register_proxy


@register_proxy("tmp_mean_abs", needs_labels=False)
def mean_abs(net, inputs, targets, ctx):
    with torch.no_grad():
        return net(inputs).abs().mean().item()


@register_proxy("tmp_sentinel", needs_labels=False)
def sentinel(net, inputs, targets, ctx):  # a placeholder for "undefined": what the contract refuses
    with torch.no_grad():
        out = net(inputs)
    return -1e12 if out.std(dim=0).max().item() < 1e-6 else out.abs().mean().item()


@register_proxy("tmp_nb201_only", needs_labels=False)
def nb201_only(net, inputs, targets, ctx):  # reads NB201's network structure: fine there, an error elsewhere
    return float(len(net.cells))
"""


# each test starts and ends with only the built-in proxies and spaces registered
pytestmark = pytest.mark.usefixtures("one_thread", "isolated_registries")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    paths = {
        "space": tmp_path / "tiny_space.py",
        "broken": tmp_path / "broken_space.py",
        "proxies": tmp_path / "my_proxies.py",
    }
    paths["space"].write_text(TINY_SPACE.format(name="tmp_tiny", build=BUILD))
    paths["broken"].write_text(TINY_SPACE.format(name="tmp_broken", build="raise RuntimeError('no weights here')"))
    paths["proxies"].write_text(PROXIES)
    return {k: str(v) for k, v in paths.items()}


def _check(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(["proxy", "check", *argv, "--batch-size", "4"])
    captured = capsys.readouterr()
    return code, (captured.out or captured.err).strip().splitlines()


def _marks(lines: list[str]) -> dict[str, str]:
    return {line.split()[1]: line.split()[0] for line in lines[1:-1]}


def test_a_good_proxy_passes_on_a_plugin_space_with_its_degenerate_cell(files, capsys) -> None:
    code, lines = _check(capsys, "tmp_mean_abs", "--space", "tmp_tiny", "--plugin", files["space"], "--plugin",
                         files["proxies"])  # fmt: skip
    assert code == 0 and lines[-1] == "verdict: PASS", lines
    assert lines[0] == "proxy tmp_mean_abs: contract on tmp_tiny cells, Gaussian batch"
    assert _marks(lines) == {"finite": "PASS", "degenerate": "PASS", "deterministic": "PASS", "labels": "PASS",
                             "bn_mode": "PASS", "prunable": "n/a", "splittable": "n/a"}  # fmt: skip
    finite = next(line for line in lines if "finite" in line)
    assert "3 cells (" in finite and "zero" not in finite  # three normal cells drawn; the degenerate one apart
    assert "cell zero: status 'degenerate'" in next(line for line in lines if " degenerate " in line)


def test_a_proxy_that_breaks_the_contract_on_the_space_exits_1(files, capsys) -> None:
    plugin = ["--space", "tmp_tiny", "--plugin", files["space"], "--plugin", files["proxies"]]
    code, lines = _check(capsys, "tmp_sentinel", *plugin)
    assert code == 1 and lines[-1] == "verdict: FAIL (1 check failed: degenerate)", lines
    assert "a sentinel?" in next(line for line in lines if "FAIL  degenerate" in line)

    # Passes on NB201, whose networks it assumes; on the plugin space every cell is an error.
    assert _check(capsys, "tmp_nb201_only", "--plugin", files["proxies"])[0] == 0
    code, lines = _check(capsys, "tmp_nb201_only", *plugin)
    assert code == 1 and lines[-1].startswith("verdict: FAIL")
    assert "FAIL  finite" in lines[1] and "AttributeError" in lines[1]


def test_named_cells_and_the_degenerate_one_among_them(files, capsys) -> None:
    code, lines = _check(capsys, "tmp_mean_abs", "--space", "tmp_tiny", "--cells", "c2,zero,3", "--plugin",
                         files["space"], "--plugin", files["proxies"])  # fmt: skip
    assert code == 0
    assert "2 cells (c2, c16), finite scores" in lines[1] and "cell zero: status 'degenerate'" in lines[2]


def test_a_space_that_names_no_degenerate_cell_skips_that_check(capsys) -> None:
    code, lines = _check(capsys, "logit_spread", "--space", "toy_widths", "--plugin", str(EXAMPLE_SPACE),
                         "--plugin", str(EXAMPLE_PROXY))  # fmt: skip
    assert code == 0 and lines[-1] == "verdict: PASS"
    assert _marks(lines)["degenerate"] == "n/a" and "skipped: toy_widths names no input-independent cell" in lines[2]
    assert "toy_widths networks have no set_prune" in next(line for line in lines if "prunable" in line)


def test_the_nats_size_space(capsys) -> None:
    code, lines = _check(capsys, "logit_spread", "--space", "nats-sss", "--plugin", str(EXAMPLE_PROXY))
    assert code == 0 and lines[-1] == "verdict: PASS", lines
    assert lines[0].endswith("contract on nats-sss cells, Gaussian batch") and _marks(lines)["prunable"] == "PASS"
    assert _marks(lines)["degenerate"] == "n/a"


def test_unknown_space_and_a_space_that_cannot_build_are_one_line(files, capsys) -> None:
    code, lines = _check(capsys, "snip", "--space", "no_such_space")
    assert code == 2 and lines == [
        "nasi-harness: error: unknown search space 'no_such_space'; registered: nats-sss, nb201 "
        "(a plugin space needs --plugin FILE.py)"
    ]
    code, lines = _check(capsys, "snip", "--space", "tmp_broken", "--plugin", files["broken"])
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("nasi-harness: error: search space 'tmp_broken' cannot build cell ")
    assert lines[0].endswith(": RuntimeError: no weights here")
    code, lines = _check(capsys, "snip", "--space", "tmp_tiny", "--cells", "c3", "--plugin", files["space"])
    assert code == 2 and lines == ["nasi-harness: error: bad cell spec 'c3': unknown tiny cell 'c3'; expected one of "
                                   "c2, c4, c8, c16, zero"]  # fmt: skip


def test_contract_cells_and_what_a_space_must_return(files) -> None:
    plugins.load_plugins([files["space"]], entry_points=False)
    nb201 = contract_cells("nb201")
    assert len(nb201.normal) == 2 and nb201.degenerate is not None and nb201.dead_edges == nb201.normal[1]
    tiny = contract_cells("tmp_tiny", seed=1)
    assert len(tiny.normal) == 3 and tiny.degenerate == 4 and 4 not in tiny.normal
    assert contract_cells("tmp_tiny", seed=1) == tiny  # the same seed, the same cells
    with pytest.raises(ContractError, match="every chosen tmp_tiny cell is degenerate"):
        contract_cells("tmp_tiny", ["zero"])
    with pytest.raises(ContractError, match="takes 1 to 16 cells"):
        contract_cells("nb201", list(range(17)))

    class Shapeless(type(space_base.get_space("tmp_tiny"))):  # builds a network that returns no logits
        def build(self, cell, dataset="cifar10", prune=False):  # noqa: ANN001, ANN202
            return torch.nn.Flatten()

    space_base.register_space("tmp_shapeless")(Shapeless)
    with pytest.raises(ContractError, match=r"cannot build cell .*returned \(4, 3072\), expected logits of shape"):
        check_proxy("params", space="tmp_shapeless", batch_size=4)

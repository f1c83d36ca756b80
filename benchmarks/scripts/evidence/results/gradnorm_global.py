"""What VKDNW's Table 1 calls GradNorm, on some reference cells: the global L2 norm of the loss gradient over every
parameter (conv/linear weights and biases, BatchNorm gamma/beta), after a Kaiming-normal fan-in re-initialisation,
for one batch of 64 N(0, 1) inputs with uniformly random labels, BN in train mode: the definition in
ondratybl/VKDNW NB201/ZeroShotProxy/compute_gradnorm_score.py (sqrt of the sum over parameters of ||grad||^2; the
AZ-NAS port's), not the zero-cost-nas / NASLib grad_norm (sum over conv/linear layers of ||dL/dW||) that this
harness registers as ``grad_norm``. Prints Spearman rho with CIFAR-10 test accuracy of both on the same cells, on the
cells given and on those of them without unreachable operations (the published table's cell set).

    NASI_HARNESS_DATA=../shared/data python -m benchmarks.scripts.evidence.results.gradnorm_global \
        [--cells 1-50] [--store S]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from benchmarks.scripts.literature_table import published_cells
from harness.analysis.stats import correlation
from harness.analysis.target import TargetSpec, target_loader
from harness.data.batch import make_batch
from harness.proxies._kaiming import cpu_generator, kaiming_normal_fanin_
from harness.spaces import get_space
from harness.spaces.cells import parse_cells


def global_grad_norm(cell: int, seed: int = 0) -> float:
    torch.manual_seed(seed)
    net = get_space("nb201").build(cell, "cifar10")
    kaiming_normal_fanin_(net, cpu_generator(seed))
    net.train()
    batch = make_batch("cifar10", 64, "gaussian", "random", seed=seed)
    logits = net(batch.inputs)
    logits = logits[1] if isinstance(logits, tuple) else logits
    loss = F.cross_entropy(logits, batch.targets)
    params = [p for p in net.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads if g is not None)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default="sample:1000:0", help="cell SPEC; only those with a stored grad_norm")
    parser.add_argument("--store", default="results/literature/results.sqlite", help="for our grad_norm [paper]")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cells = parse_cells(args.cells, "nb201")
    ours = None
    try:
        from harness.analysis.inputs import load_scores

        frame = load_scores(args.store, builtin_aggregates=False)
        frame = frame[frame["proxy"].astype(str).str.startswith("grad_norm")]
        ours = frame.set_index("index")["score"].astype(float)
        cells = [c for c in cells if c in ours.index]
    except Exception as exc:  # noqa: BLE001 - the comparison is optional
        print(f"(no stored grad_norm: {exc})")
    values = pd.Series({c: global_grad_norm(c) for c in cells})
    test = target_loader(TargetSpec("test"))("nb201", "cifar10")
    kept = values.index.isin(published_cells())
    for label, mask in (("cells given", np.ones(len(values), bool)), ("without unreachable ops", kept)):
        y = test.reindex(values.index[mask]).to_numpy(dtype=float)
        rho = correlation(values[mask].to_numpy(), y, "spearman")
        line = f"{label} (n {mask.sum()}): global gradient norm rho {rho:.3f}"
        if ours is not None:
            rho = correlation(ours.reindex(values.index[mask]).to_numpy(), y, "spearman")
            line += f", grad_norm [paper] rho {rho:.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

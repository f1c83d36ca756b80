"""An example plugin proxy for docs/extending.md: the spread of the logits at initialisation.

Load it with ``--plugin docs/examples/logit_spread.py`` (score, run, search sample, proxy check) or
``plugins = ["logit_spread.py"]`` in a study file beside it.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.proxies import ProxyContext, register_proxy


@register_proxy(
    "logit_spread",
    needs_labels=False,  # the contract checks it: random labels must give the same score
    higher_is_better=True,
    bn_mode="train",
    prunable=True,  # depends on the output only, so dead edges may be skipped (checked too)
    version=1,
    paper="example for docs/extending.md (not a published proxy)",
)
def logit_spread(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
    """Score = log of the mean over classes of the logits' standard deviation across the batch.

    A network whose output varies more with its input at initialisation scores higher. A cell that ignores its
    input gives std 0 and log 0 = -inf: the engine records status ``nan``, no sentinel needed.
    """
    with torch.no_grad():
        logits = net(inputs).double()
    return float(torch.log(logits.std(dim=0).mean()))

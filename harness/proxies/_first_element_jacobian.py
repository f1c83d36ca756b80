"""Per-sample Jacobian of the logits w.r.t. the FIRST element of every parameter tensor (VKDNW's reduced
parameter set), in eval mode, without materialising per-sample weight gradients.

The VKDNW reference (``get_jacobian_index`` in ondratybl/VKDNW) obtains it with ``torch.func`` (``vmap`` over
samples of ``jacrev``), which holds a full weight gradient per sample and class. Here forward hooks keep
each parameterised module's output and, from its input, what output channel 0 multiplies weight element 0
by; one backward per class then gives the output gradients of the whole batch (in eval mode the samples
are independent, so these are the per-sample gradients), and the derivative w.r.t. element 0 is contracted
in closed form:

- Conv2d ``weight[0, 0, 0, 0]``: sum over positions of grad_out[:, 0] x (input channel 0 sampled at the
  kernel tap (0, 0) with the layer's stride, padding and dilation); ``bias[0]``: sum of grad_out[:, 0];
- Linear ``weight[0, 0]``: grad_out[..., 0] x input[..., 0] (summed over extra dims); ``bias[0]`` likewise;
- BatchNorm2d with running statistics ``weight[0]``: sum of grad_out[:, 0] x normalised input channel 0;
  ``bias[0]``: sum of grad_out[:, 0].

Other modules holding parameters raise ``ValueError``. The hooks hand back a copy of each output so that a
following in-place op (``ReLU(inplace=True)``) cannot overwrite the tensor whose gradient is taken.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED = (nn.Conv2d, nn.Linear, nn.BatchNorm2d)


def _owners(net: nn.Module) -> dict[int, tuple[nn.Module, str]]:
    """id(parameter) -> (module holding it directly, its attribute name)."""
    owners: dict[int, tuple[nn.Module, str]] = {}
    for module in net.modules():
        for local, param in module.named_parameters(recurse=False):
            owners.setdefault(id(param), (module, local))
    return owners


def _conv_tap(module: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """Input channel 0 seen by kernel tap (0, 0) at every output position: d out[:, 0] / d weight[0,0,0,0]."""
    if module.padding_mode != "zeros":
        raise ValueError(f"vkdnw supports zero-padded convolutions only, got padding_mode={module.padding_mode!r}")
    kernel = torch.zeros((1, 1, *module.kernel_size), dtype=x.dtype, device=x.device)
    kernel[0, 0, 0, 0] = 1.0
    return F.conv2d(x[:, :1], kernel, None, module.stride, module.padding, module.dilation)


def _weight_basis(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """d output[:, 0] / d weight.flatten()[0] per sample and position (independent of the cotangent)."""
    if isinstance(module, nn.Conv2d):
        return _conv_tap(module, x)[:, 0]
    if isinstance(module, nn.Linear):
        return x[..., 0]
    if isinstance(module, nn.BatchNorm2d):
        return (x[:, 0] - module.running_mean[0]) / torch.sqrt(module.running_var[0] + module.eps)
    raise AssertionError(f"unsupported module {type(module).__name__}")  # filtered before


def _channel0(module: nn.Module, g: torch.Tensor) -> torch.Tensor:
    return g[..., 0] if isinstance(module, nn.Linear) else g[:, 0]


def first_element_jacobian(net: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [B, C], J [B, C, P]) with J[b, c, k] = d logit[b, c] / d (k-th named parameter).flatten()[0].

    The network must be in eval mode (per-sample gradients need independent samples); parameters follow
    ``net.named_parameters()`` order; parameters the output does not depend on get zero columns.
    """
    if net.training:
        raise ValueError("the first-element Jacobian needs the network in eval mode (independent samples)")
    params = list(net.named_parameters())
    owners = _owners(net)
    for name, param in params:
        module, _ = owners[id(param)]
        if not isinstance(module, SUPPORTED):
            raise ValueError(f"vkdnw supports Conv2d, Linear and BatchNorm2d parameters; {name!r} is in a "
                             f"{type(module).__name__}")  # fmt: skip
        if isinstance(module, nn.BatchNorm2d) and module.running_mean is None:
            raise ValueError(f"vkdnw needs BatchNorm2d running statistics; {name!r} has none (batch-coupled)")
    modules = {id(owners[id(p)][0]): owners[id(p)][0] for _, p in params}
    calls: list[tuple[nn.Module, torch.Tensor | None, torch.Tensor]] = []

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        weight = getattr(module, "weight", None)
        basis = _weight_basis(module, args[0].detach()) if isinstance(weight, nn.Parameter) else None
        calls.append((module, basis, output))
        return output.clone()

    handles = [m.register_forward_hook(hook) for m in modules.values()]
    try:
        logits = net(inputs)
    finally:
        for handle in handles:
            handle.remove()
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
        raise ValueError("vkdnw needs a classifier returning a [batch, classes] logit tensor")
    batch, classes = logits.shape
    column = {id(p): k for k, (_, p) in enumerate(params)}
    jacobian = torch.zeros(batch, classes, len(params), dtype=torch.float64, device=logits.device)
    live = [(m, x, out) for m, x, out in calls if out.requires_grad]
    for c in range(classes):
        grads = torch.autograd.grad(
            logits[:, c].sum(), [out for _, _, out in live], retain_graph=c < classes - 1, allow_unused=True
        )
        for (module, basis, _), g in zip(live, grads):
            if g is None:
                continue
            g0 = _channel0(module, g)
            for local, param in module.named_parameters(recurse=False):
                term = g0 if local == "bias" else g0 * basis
                jacobian[:, c, column[id(param)]] += term.reshape(batch, -1).sum(dim=1).double()
    return logits.detach(), jacobian

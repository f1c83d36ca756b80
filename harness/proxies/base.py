"""The proxy interface and registry.

A proxy is a function ``fn(net, inputs, targets, ctx) -> float`` registered with metadata. The scoring
engine builds the network (default PyTorch init, ``train()`` mode), hands every proxy the same initial
weights (a deep copy when the proxy declares ``mutates_net``), puts BN in the declared mode, and turns
NaN/inf or exceptions into status records: a proxy just returns its signed score or raises.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from harness.names import name_problem
from harness.proxies.protocol import PaperProtocol
from harness.spaces.base import Cost

ProxyFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, "ProxyContext"], float]
# Stacked form: (StackedNetworks, inputs, targets) -> [K] scores, one per stacked network (see register_stacked).
StackedFn = Callable[[Any, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class ProxyContext:
    """What a proxy may need besides the network and the batch.

    ``micro_batch``: when set, split forward/backward passes into chunks of at most this many samples
    and accumulate so that the result equals the whole-batch result (the engine sets it after an
    out-of-memory error, for proxies declaring ``splittable``). ``memo``: see ``remember``.
    """

    num_classes: int
    cost: Cost | None = None
    micro_batch: int | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    memo: dict | None = None

    def remember(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()``, or its value from an earlier proxy on the same cell, batch and initial weights.

        The engine hands every proxy of one cell the same ``memo`` (None: nothing is shared), so proxies that
        compute the same intermediate (ntk_cond and te_nas: the same NTK Gram) compute it once. ``key`` must
        name everything the value depends on besides the cell, the batch and the initial weights.
        """
        if self.memo is None:
            return compute()
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


@dataclass(frozen=True)
class ProxySpec:
    name: str
    fn: ProxyFn
    needs_labels: bool
    needs_real_data: bool
    higher_is_better: bool
    bn_mode: Literal["train", "eval"]
    mutates_net: bool
    prunable: bool
    splittable: bool
    description: str
    version: int = 1
    paper: str = ""
    protocol: PaperProtocol | None = None  # how the official code applies it (harness.proxies.protocol); None: as ours

    def __call__(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, ctx: ProxyContext) -> float:
        return as_score(self.name, self.fn(net, inputs, targets, ctx))

    @property
    def builtin(self) -> bool:
        """Defined in this package (not by a plugin)."""
        return getattr(self.fn, "__module__", "").startswith("harness.proxies.")


def as_score(name: str, value: object) -> float:
    """A proxy's return value as a float, or one clear ``TypeError``.

    Accepted: real numbers (int, float, NumPy scalars) and one-element tensors (``.item()``: a 0-d tensor is
    a number). Refused: None, strings, bools and tensors of more than one element, which ``float()`` would
    either reject with an obscure message or silently accept ("1.5", True).
    """
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"proxy {name!r} returned a tensor of shape {tuple(value.shape)}; expected one number")
        value = value.detach().item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"proxy {name!r} returned {type(value).__name__} {value!r:.40}; expected a float")
    return float(value)


_REGISTRY: dict[str, ProxySpec] = {}
_STACKED: dict[str, StackedFn] = {}


def register_proxy(
    name: str,
    *,
    needs_labels: bool,
    needs_real_data: bool = False,
    higher_is_better: bool = True,
    bn_mode: Literal["train", "eval"] = "train",
    mutates_net: bool = False,
    prunable: bool = False,
    splittable: bool = False,
    description: str = "",
    version: int = 1,
    paper: str = "",
    protocol: PaperProtocol | None = None,
) -> Callable[[ProxyFn], ProxyFn]:
    """Register ``fn`` as proxy ``name``.

    ``version``: bump it when a change alters the proxy's scores; it is part of each stored row's key, so a run
    re-scores rows stored under another version. ``paper``: the publication whose score the name means.
    ``protocol``: how the official code applies it (``harness.proxies.protocol``), used under the ``paper``
    protocol; a change to it that changes those scores bumps ``version`` too.

    ``prunable``: the score only depends on the output and gradients, so edges that cannot reach the cell
    output may be skipped (see ``harness.spaces.cell.live_edges``), and a convolution reading an identically
    zero node is not computed (its output and weight gradient are exactly zero; the BN after it runs on the
    same zeros). A proxy that hooks convolutions must count a missing call as that zero. ``mutates_net``: the
    proxy changes weights or buffers in place, so it must get its own copy of the network.
    """

    if name_problem(name):  # stored rows carry it; merge refuses the same names (harness.names)
        raise ValueError(f"proxy {name_problem(name)}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"proxy {name!r}: version must be an integer >= 1, got {version!r}")
    if protocol is not None and not isinstance(protocol, PaperProtocol):
        raise ValueError(f"proxy {name!r}: protocol must be a harness.proxies.protocol.PaperProtocol, got {protocol!r}")

    def decorator(fn: ProxyFn) -> ProxyFn:
        if name in _REGISTRY:
            if _REGISTRY[name].builtin and not getattr(fn, "__module__", "").startswith("harness.proxies."):
                raise ValueError(f"proxy {name!r} is a built-in proxy; choose another name")
            raise ValueError(f"proxy {name!r} registered twice")
        _REGISTRY[name] = ProxySpec(
            name=name,
            fn=fn,
            needs_labels=needs_labels,
            needs_real_data=needs_real_data,
            higher_is_better=higher_is_better,
            bn_mode=bn_mode,
            mutates_net=mutates_net,
            prunable=prunable,
            splittable=splittable,
            description=description or (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else description,
            version=version,
            paper=paper,
            protocol=protocol,
        )
        return fn

    return decorator


def register_stacked(name: str) -> Callable[[StackedFn], StackedFn]:
    """Register a form of proxy ``name`` that scores K networks stacked into one computation
    (``harness.spaces.stacked``): same definition, same weights, one launch per layer for all K."""

    def decorator(fn: StackedFn) -> StackedFn:
        get_proxy(name)
        if name in _STACKED:
            raise ValueError(f"stacked form of {name!r} registered twice")
        _STACKED[name] = fn
        return fn

    return decorator


def unregister_proxy(name: str) -> None:
    """Remove proxy ``name`` (and its stacked form): for plugins that failed half-way and temporary test proxies."""
    _REGISTRY.pop(name, None)
    _STACKED.pop(name, None)


@contextlib.contextmanager
def temporary_proxy(name: str, fn: ProxyFn, **flags: Any) -> Iterator[ProxySpec]:
    """Register ``fn`` as proxy ``name`` (``flags`` as for ``register_proxy``) for the ``with`` block only."""
    register_proxy(name, **flags)(fn)
    try:
        yield _REGISTRY[name]
    finally:
        unregister_proxy(name)


def get_stacked(name: str) -> StackedFn | None:
    """The stacked form of proxy ``name``, or None when it has none."""
    get_proxy(name)
    return _STACKED.get(name)


def proxy_names() -> list[str]:
    return sorted(_REGISTRY)


def get_proxy(name: str) -> ProxySpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown proxy {name!r}; expected one of {', '.join(proxy_names())}") from None


def parse_proxy_list(text: str) -> list[str]:
    """``"nasi,snip"`` -> validated names; ``"all"`` -> every registered proxy."""
    if text.strip() == "all":
        return proxy_names()
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ValueError(f"empty proxy list; expected names from {', '.join(proxy_names())} or 'all'")
    for n in names:
        get_proxy(n)
    return names

"""Scoring protocols: how a proxy is applied (data, batch, repeats, initialisation), declared per proxy.

Two protocols exist. ``harness`` is uniform: every proxy sees the unit's mini-batch (b = 64 by default, the
unit's data and label modes), the network with PyTorch's default initialisation drawn from the unit's seed, one
scoring. ``paper`` applies each proxy as the code behind its published NB201 numbers does: a ``PaperProtocol``
declared with ``register_proxy(..., protocol=PaperProtocol(...))`` and cited in the proxy's module. A proxy without
a declaration runs under ``paper`` exactly as under ``harness`` (its rows still say ``paper``).

A declaration's fields either fix a setting (replacing the unit's: the stored row carries the value actually
used, so two units that resolve to the same settings are one unit) or describe the official code where the
engine cannot or need not act (``normalisation``, ``deviations``). ``unconfirmed`` names the fields the cited
code did not settle: they hold the harness's value, not a guess.

Which code: for the proxies in the NB201 table of VKDNW (Tybl & Neumann, CVPR 2025, Table 1: FLOPs, GradNorm,
GraSP, SNIP, SynFlow, Jacov, NASWOT, ZenNAS, ZiCo, TE-NAS, AZ-NAS, VKDNW) the code that table was computed with:
VKDNW's NB201 harness (``TABLE_ONE``), which is AZ-NAS's (``AZ_NAS_DRIVER``: the driver choosing real images or
N(0, 1) inputs) with Jacov and VKDNW added; for AZ-NAS and VKDNW that is their authors' official code. Where the
proxy's original authors' code applies it otherwise, ``notes`` says how. For other proxies, their authors' code.

Provenance and versions: a paper row's key holds the data, labels and batch size actually used, so changing
those fields of a declaration gives new keys (old rows stay under theirs, never counted as the new setting). A change
to any other field that changes scores (``UNKEYED_FIELDS``: repeats, redraw, init, BN mode, input size) bumps the
proxy's ``version`` (part of every row's key, so a run re-scores its rows; harness rows too, the price of one
version per proxy); ``tests/test_protocols.py`` pins each declaration's ``fingerprint`` to the version it was made
under. VKDNW's Table 1 averages five runs (``--rand_seed`` 1-5): that is the study's ``seeds``, not a protocol
field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from typing import Literal

import torch
from torch import nn

from harness.proxies._kaiming import cpu_generator, kaiming_normal_fanin_

HARNESS = "harness"
PAPER = "paper"
PROTOCOLS = (HARNESS, PAPER)
# Initialisations the engine can draw: PyTorch's default (the network as built from the unit's seed), Kaiming
# normal fan-in (conv/linear ~ N(0, 2/fan_in), bias 0, BN/GN affine 1/0), and N(0, 1) (Zen-NAS, SWAP).
INITS = ("default", "kaiming_normal_fanin", "normal")
REDRAWS = ("init", "batch")
# The code behind the NB201 rows of VKDNW's Table 1 (``table_one(name)`` names one proxy's file of it).
TABLE_ONE = "ondratybl/VKDNW@6901b65e NB201/ZeroShotProxy/compute_{}_score.py"
AZ_NAS_DRIVER = ("ondratybl/VKDNW@779a3a83 NB201/tss_general_.py, the Table 1 driver (real_input_metrics: zico, snip, "
                 "grasp, te_nas, gradsign, jacov get training images, the rest N(0,1) inputs; --batch_size 64), as "
                 "cvlab-yonsei/AZ-NAS@5e6683a5 NB201/tss_general.ipynb (the same list without jacov; batch 64 from "
                 "configs/nas-benchmark/algos/weight-sharing.config)")  # fmt: skip
AUGMENTED = ("the official loader's training images carry NB201's training augmentation (random crop with padding 4, "
             "horizontal flip); the harness draws them unaugmented")  # fmt: skip
ZERO_COST_NAS = ("SamsungLabs/zero-cost-nas@a43bfbc9 nasbench2_pred.py (--batch_size 64, --dataload random, "
                 "--dataload_info 1: one training batch; --init_w_type none: PyTorch's default init)")  # fmt: skip


def table_one(name: str) -> str:
    """The file of VKDNW's NB201 harness that computes proxy ``name`` (its own spelling, e.g. ``gradnorm``)."""
    return TABLE_ONE.format(name)


# The fixed data modes a declaration may name (what official NB201 code feeds: training images or N(0,1)).
FIXED_DATA = ("real", "gaussian")
FIXED_LABELS = ("true", "random")


# The fields that change a proxy's paper-protocol scores without showing in the stored row's key (data, labels and
# batch size are key fields: changing them gives new keys); the other fields cite and explain.
UNKEYED_FIELDS = ("repeats", "redraw", "init", "init_in_proxy", "bn_mode", "input_size")


@dataclass(frozen=True)
class PaperProtocol:
    """How the official code applies a proxy (None: the unit's value is kept).

    ``source``: ``owner/repo path@commit`` of the code the values are read from. ``data`` / ``labels`` /
    ``batch_size``: the data mode, label mode and number of samples it feeds (ZiCo's two batches of 64 are 128
    samples, split in halves by the proxy). ``repeats``: independent scorings whose mean is the score; repeat 0
    uses the unit's seed, repeat r > 0 a seed derived from it, for what ``redraw`` names (the weights and/or
    the batch). ``init``: the initialisation scored (one of ``INITS``); ``init_in_proxy``: the proxy draws it
    itself under both protocols (the engine leaves the weights alone). ``bn_mode``: BatchNorm mode when it
    differs from the proxy's. ``input_size``: the resolution the official code feeds (the engine refuses one that is
    not the dataset's: it does not resize).
    ``normalisation``: how inputs are normalised (descriptive). ``deviations``: what the harness does not
    reproduce. ``notes``: anything else a reader of the numbers needs (e.g. where the proxy's original authors'
    code differs from the code cited). ``unconfirmed``: fields the cited code did not settle.
    """

    source: str
    data: str | None = None
    labels: str | None = None
    batch_size: int | None = None
    repeats: int = 1
    redraw: tuple[str, ...] = ("init", "batch")
    init: str = "default"
    init_in_proxy: bool = False
    bn_mode: Literal["train", "eval"] | None = None
    input_size: int | None = None
    normalisation: str = "dataset mean/std (real images); none (N(0,1) inputs)"
    deviations: str = ""
    notes: str = ""
    unconfirmed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.source, str) or not self.source.strip():
            problems.append("source must name the official code (owner/repo path@commit)")
        if self.data is not None and self.data not in FIXED_DATA:
            problems.append(f"data {self.data!r} not in {FIXED_DATA} (or None: the unit's)")
        if self.labels is not None and self.labels not in FIXED_LABELS:
            problems.append(f"labels {self.labels!r} not in {FIXED_LABELS} (or None: the unit's)")
        for name in ("batch_size", "input_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                problems.append(f"{name} must be a positive integer or None, got {value!r}")
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            problems.append(f"repeats must be an integer >= 1, got {self.repeats!r}")
        if not set(self.redraw) <= set(REDRAWS):
            problems.append(f"redraw {self.redraw!r}: allowed {REDRAWS}")
        if self.init not in INITS:
            problems.append(f"init {self.init!r} not in {INITS}")
        if self.bn_mode not in (None, "train", "eval"):
            problems.append(f"bn_mode {self.bn_mode!r}: train, eval or None")
        known = {f.name for f in fields(self)}
        if not set(self.unconfirmed) <= known:
            problems.append(f"unconfirmed names unknown fields {sorted(set(self.unconfirmed) - known)}")
        if problems:
            raise ValueError("PaperProtocol: " + "; ".join(problems))

    @property
    def engine_init(self) -> str | None:
        """The initialisation the engine draws before the proxy runs (None: the network as built)."""
        return None if self.init == "default" or self.init_in_proxy else self.init

    def fingerprint(self) -> str:
        """12 hex digits of ``UNKEYED_FIELDS`` (what changes scores but not keys): what the version-bump test pins."""
        text = repr([(name, getattr(self, name)) for name in UNKEYED_FIELDS])
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def summary(self) -> str:
        """One line: the settings the declaration fixes (for ``proxy list`` and docs/proxies.md)."""
        parts = [f"data {self.data}" if self.data else "", f"labels {self.labels}" if self.labels else "",
                 f"b = {self.batch_size}" if self.batch_size else "",
                 f"{self.repeats} repeats (new {' + '.join(self.redraw)})" if self.repeats > 1 else "",
                 f"init {self.init}" + (" (in the proxy)" if self.init_in_proxy else "") if self.init != "default"
                 else "", f"BN {self.bn_mode}" if self.bn_mode else "",
                 f"input {self.input_size}px" if self.input_size else ""]  # fmt: skip
        return ", ".join(p for p in parts if p) or "as the harness protocol"


def table_one_protocol(
    name: str,
    data: str,
    *,
    labels: str | None = None,
    batch_size: int = 64,
    init: str = "kaiming_normal_fanin",
    driver: bool = True,
    deviations: str | None = None,
    **described: str,
) -> PaperProtocol:
    """The declaration of a proxy as VKDNW's Table 1 code applies it (``table_one(name)``, run by ``AZ_NAS_DRIVER``
    unless ``driver`` is False), so each proxy module states only what is its own.

    That driver feeds one batch of 64, training images (``data="real"``: the declaration then carries the
    ``AUGMENTED`` deviation unless ``deviations`` says otherwise) or N(0, 1) inputs, to networks re-drawn with
    Kaiming normal fan-in unless ``init`` names the proxy's own. ``described``: ``notes`` / ``normalisation``.
    """
    if deviations is None:
        deviations = AUGMENTED if data == "real" else ""
    source = f"{table_one(name)}; {AZ_NAS_DRIVER}" if driver else table_one(name)
    return PaperProtocol(source=source, data=data, labels=labels, batch_size=batch_size, init=init,
                    deviations=deviations, **described)  # fmt: skip


# fisher, plain and l2_norm: Abdelfattah et al.'s zero-cost code for NAS-Bench-201, one batch of 64 training images
# with their labels at PyTorch's default init (one declaration, so the three cannot drift apart).
ZERO_COST_NAS_PROTOCOL = PaperProtocol(
    source=ZERO_COST_NAS,
    data="real",
    labels="true",
    batch_size=64,
    deviations="the official loader's training images carry random crop and flip; the harness draws them unaugmented",
)


@dataclass(frozen=True)
class Effective:
    """The settings one unit is scored under: the study's, with what the protocol fixes replaced."""

    data: str
    labels: str
    batch_size: int
    protocol: str


def check_protocol(name: str) -> str:
    """``name`` if it is a protocol, else ``ValueError`` naming the allowed ones."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; expected one of {', '.join(PROTOCOLS)}")
    return name


def effective(declared: PaperProtocol | None, protocol: str, data: str, labels: str, batch_size: int) -> Effective:
    """What a unit asked for under ``protocol`` is scored with: under ``paper`` the fields ``declared`` fixes
    replace the unit's (idempotent: resolving an already resolved unit changes nothing)."""
    check_protocol(protocol)
    if protocol == HARNESS or declared is None:
        return Effective(data, labels, batch_size, protocol)
    return Effective(declared.data or data, declared.labels or labels, declared.batch_size or batch_size, protocol)


def repeat_seed(seed: int, repeat: int) -> int:
    """The seed of repeat ``repeat`` of a unit: the unit's own for repeat 0, a hash-derived one after."""
    if repeat == 0:
        return int(seed)
    digest = hashlib.sha256(f"nasi-harness/repeat/{seed}/{repeat}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**31 - 1)


@torch.no_grad()
def initialise_(net: nn.Module, init: str, seed: int) -> None:
    """Re-draw ``net``'s weights with ``init`` from a CPU generator seeded with ``seed`` (module order), as the
    official codes' ``init_model``: conv/linear weights (Kaiming normal fan-in or N(0, 1)), their biases 0,
    BatchNorm/GroupNorm affine weight 1, bias 0; other modules keep theirs. ``default`` leaves ``net`` as is."""
    if init == "default":
        return
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")
    gen = cpu_generator(seed)
    if init == "kaiming_normal_fanin":
        kaiming_normal_fanin_(net, gen)  # the draws az_nas and vkdnw make themselves
        return
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.copy_(torch.empty(m.weight.shape, dtype=m.weight.dtype).normal_(0.0, 1.0, generator=gen))
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
            m.weight.fill_(1.0)
            m.bias.zero_()

"""Cell genotypes of the NAS-Bench-201 topology space: parsing, validation, canonical form, liveness.

A genotype is a tuple of three nodes; node ``i`` (1..3) is a tuple of ``(op, source)`` pairs, one per
earlier node. The arch string is ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.
"""

from __future__ import annotations

from collections.abc import Sequence

# Defined here, not in ops (which builds torch modules), so that reading arch strings needs no torch.
OP_NAMES: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

Genotype = tuple[tuple[tuple[str, int], ...], ...]

ARCH_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2| with op in {" + ", ".join(OP_NAMES) + "}"
NUM_NODES = 4  # input node 0 + three computed nodes; node 3 is the cell output


def parse_arch(arch: str) -> Genotype:
    """Parse and validate an arch string; ``ValueError`` with a one-line reason otherwise."""
    if not isinstance(arch, str):
        raise ValueError(f"arch must be a string, got {type(arch).__name__}; expected {ARCH_FORM}")
    text = arch.strip()
    nodes_txt = text.split("+")
    if len(nodes_txt) != NUM_NODES - 1:
        raise ValueError(f"malformed arch string {arch!r}: {len(nodes_txt)} nodes, expected 3 ({ARCH_FORM})")
    nodes = []
    for node_id, node_txt in enumerate(nodes_txt, start=1):
        if not (node_txt.startswith("|") and node_txt.endswith("|")) or len(node_txt) < 2:
            raise ValueError(
                f"malformed arch string {arch!r}: node {node_id} must be wrapped in '|'; expected {ARCH_FORM}"
            )
        edges_txt = node_txt[1:-1].split("|")
        if len(edges_txt) != node_id:
            raise ValueError(
                f"malformed arch string {arch!r}: node {node_id} has {len(edges_txt)} edges, "
                f"expected {node_id} ({ARCH_FORM})"
            )
        edges = []
        for source, edge_txt in enumerate(edges_txt):
            op, sep, src = edge_txt.partition("~")
            if not sep or src != str(source):
                raise ValueError(
                    f"malformed arch string {arch!r}: edge {edge_txt!r} of node {node_id} "
                    f"should read 'op~{source}' ({ARCH_FORM})"
                )
            if op not in OP_NAMES:
                raise ValueError(
                    f"unknown operation {op!r} in arch string {arch!r}; expected one of {', '.join(OP_NAMES)}"
                )
            edges.append((op, source))
        nodes.append(tuple(edges))
    return tuple(nodes)


def format_arch(genotype: Sequence[Sequence[tuple[str, int]]]) -> str:
    return "+".join("|" + "|".join(f"{op}~{src}" for op, src in node) + "|" for node in genotype)


PARAMETER_FREE_OPS = ("none", "skip_connect", "avg_pool_3x3")


def _reached_from_input(genotype: Genotype) -> list[bool]:
    """Per node 0-3: joined to the cell input by a path of non-``none`` edges."""
    from_input = [True, False, False, False]
    for node_id, node in enumerate(genotype, start=1):
        from_input[node_id] = any(op != "none" and from_input[src] for op, src in node)
    return from_input


def _reaches_output(genotype: Genotype) -> list[bool]:
    """Per node 0-3: joined to the cell output (node 3) by a path of non-``none`` edges."""
    to_output = [False, False, False, True]
    for node_id in (3, 2, 1):
        if to_output[node_id]:
            for op, src in genotype[node_id - 1]:
                if op != "none":
                    to_output[src] = True
    return to_output


def live_edges(genotype: Genotype) -> list[list[bool]]:
    """Per node, per incoming edge: can the edge change the output or any gradient?

    An edge is dead when it is ``none``, when its node has no non-``none`` path to the cell output (its
    parameters then get zero gradient and it adds nothing), or when a parameter-free op reads a node that
    is identically zero. A convolution reading a zero node stays live: train-mode BN turns its zero input
    into BN's bias, whose gradient is non-zero (the pruned network runs only that BN, on zeros:
    ``ReLUConvBN.on_zero_input``). Skipping dead edges is therefore exact.
    """
    zero = [False, True, True, True]  # identically zero with no parameter dependence
    contributes: list[list[bool]] = []
    for node_id, node in enumerate(genotype, start=1):
        row = [op != "none" and (not zero[src] or op not in PARAMETER_FREE_OPS) for op, src in node]
        contributes.append(row)
        zero[node_id] = not any(row)
    to_output = _reaches_output(genotype)
    return [[c and to_output[node_id] for c in row] for node_id, row in enumerate(contributes, start=1)]


def is_degenerate(genotype: Genotype) -> bool:
    """True when no path of non-``none`` edges joins the cell input to its output: the network ignores its input."""
    from_input = _reached_from_input(genotype)
    return not from_input[3]


def ops_reachable(genotype: Genotype) -> bool:
    """True when every non-``none`` operation lies on a path of non-``none`` edges from the cell input (node 0) to
    its output (node 3): no operation is unreachable. The cell of ``none`` edges only has no operation, so it
    counts (NAS-Bench-Suite-Zero's 9,445 NB201 cells include it; GRAF's and VKDNW's 9,444 leave it out)."""
    from_input = _reached_from_input(genotype)
    to_output = _reaches_output(genotype)
    return all(
        from_input[src] and to_output[node_id]
        for node_id, node in enumerate(genotype, start=1)
        for op, src in node
        if op != "none"
    )


def canonical_form(genotype: Genotype) -> str:
    """NAS-Bench-201's isomorphism key (its ``UniqueString``): equal keys mean the same function.

    Node 0 is ``0``. Each edge contributes a term: ``#`` for ``none`` or a source that is exactly
    ``#``; the source's whole string for ``skip_connect``; ``(source)@op`` otherwise. A node is its
    terms sorted as strings and joined by ``+``; the key is the output node's string. This is the
    benchmark's own (syntactic) convention, so the partition matches the published 6,466 classes.
    """
    nodes = ["0"]
    for node in genotype:
        terms = []
        for op, src in node:
            if op == "none" or nodes[src] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(nodes[src])
            else:
                terms.append(f"({nodes[src]})@{op}")
        nodes.append("+".join(sorted(terms)))
    return nodes[-1]

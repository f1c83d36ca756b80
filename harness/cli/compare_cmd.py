"""``nasi-harness compare``: proxies ranked side by side on the same cells, with paired intervals."""

from __future__ import annotations

import argparse

from harness.cli import add_plugin_option, options


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="rank proxies by oriented Spearman rho, paired-bootstrap intervals on differences, rank ensembles",
        description="Compare proxies on the cells all of them scored. 'best - this' is the paired-bootstrap "
        "difference of oriented rho from the best proxy (an interval containing 0: not distinguishable). "
        "--aggregate NAME=a+b+c (or ensemble:a+b+c) adds the rank aggregate sum(log(rank/N)) of those proxies as a "
        "proxy, the same values as in correlate, report and search sample. With several "
        "scoring seeds proxies are paired and ranked within each seed; the table ranks them by the mean over "
        "seeds and says whether the order holds in every seed (--seed N: one seed; --per-seed: each).",
    )
    options.add_store_arguments(parser)
    options.add_target_arguments(parser)
    parser.add_argument(
        "--ensemble",
        action="append",
        default=[],
        metavar="P1,P2[,...]",
        help="deprecated spelling of --aggregate ensemble:P1+P2[+...] (repeatable; prints a notice)",
    )
    parser.add_argument("--exclude-degenerate", action="store_true", help="leave degenerate cells out")
    parser.add_argument("--pairwise", action="store_true", help="also print every pairwise difference")
    parser.add_argument(
        "--agreement",
        action="store_true",
        help="instead: how alike each pair of proxies ranks the cells both scored (oriented Spearman / Kendall / "
        "Pearson with intervals); needs no accuracy",
    )
    options.add_bootstrap_arguments(parser, scoring_seed=True)
    options.add_per_seed(parser)
    options.add_output_arguments(parser)
    parser.add_argument(
        "--against",
        choices=("reference",),
        help="rank your proxy (STORE's only proxy, or --proxies NAME) among the committed scores of the built-in "
        "proxies on the 1,000 reference cells, on the cells both have (docs/extending.md)",
    )
    parser.add_argument(
        "--reference-dir", help="checkout holding results/ (default: $NASI_HARNESS_REFERENCE, else this checkout)"
    )
    add_plugin_option(parser)
    parser.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    import json

    from harness.analysis import compare, ensemble_name
    from harness.analysis import tables as views
    from harness.cli import tables

    if args.against:
        return _against(args)
    if args.agreement:
        return _agreement(args)
    ensembles = deprecated_ensembles(args)
    wanted = options.split_list(args.proxies)
    if wanted:
        wanted = list(dict.fromkeys([*wanted, *(ensemble_name(g) for g in ensembles)]))
    args.proxies = ",".join(dict.fromkeys([*wanted, *(p for g in ensembles for p in g)])) if wanted else None
    results = options.load_filtered(args)
    result = compare(
        results,
        options.make_target(args),
        proxies=list(dict.fromkeys([*wanted, *options.asked_aggregates(args)])) if wanted else None,
        exclude_degenerate=args.exclude_degenerate,
        n_boot=args.bootstrap,
        seed=args.bootstrap_seed,
        level=args.level,
        seeds=args.seeds,
    )
    ranking, pairwise = result.table, result.tables["pairwise"]
    notes = [*result.notes, *result.method, _NOTE]
    columns, pair_columns, pair_title = views.compare_columns, _pair_columns(), _PAIR_TITLE
    shown = [*notes, *options.seed_note(ranking)]  # text and Markdown; --json keeps its notes as they were
    if options.summarised(ranking, args):
        ranking, pairwise = result.tables["seeds"], result.tables["seeds_pairwise"]
        columns, pair_columns, pair_title = views.compare_seed_columns, _seed_pair_columns(), _SEED_PAIR_TITLE
        shown = notes

    def text(wide: bool) -> str:
        out = tables.render_text(ranking, columns, shown, wide)
        if args.pairwise and not pairwise.empty:
            out += pair_title
            out += tables.text_table(views.render(pairwise, pair_columns), None)[0] + "\n"
        return out

    options.emit(
        args,
        ranking,
        text=text,
        markdown=lambda: views.render_markdown(ranking, columns, notes=shown),
        as_json=lambda: json.dumps(
            {"ranking": views.records(ranking), "pairwise": views.records(pairwise), "notes": notes}, indent=2
        ),
        as_csv=lambda: views.to_csv(ranking),
    )
    return 0


def deprecated_ensembles(args: argparse.Namespace) -> list[list[str]]:
    """``--ensemble a,b`` (deprecated) -> ``--aggregate ensemble:a+b``, with a one-line notice on stderr; the
    groups, so that --proxies can name their members and the ensemble."""
    import sys

    ensembles = [options.split_list(e) for e in args.ensemble]
    for group in ensembles:
        if len(group) < 2:
            raise ValueError(f"--ensemble needs at least two proxies, got {','.join(group) or 'none'}")
    if ensembles:
        specs = [f"ensemble:{'+'.join(g)}" for g in ensembles]
        print(
            f"note: --ensemble is deprecated; use {' '.join(f'--aggregate {s}' for s in specs)} (same values)",
            file=sys.stderr,
        )
        args.aggregate = [*(args.aggregate or []), *specs]
    return ensembles


def _agreement(args: argparse.Namespace) -> int:
    import json

    from harness.analysis import score_agreement
    from harness.analysis import tables as views

    if args.ensemble:
        raise ValueError("--agreement compares stored proxies; drop --ensemble")
    found = score_agreement(
        options.load_filtered(args),
        proxies=options.split_list(args.proxies) or None,
        exclude_degenerate=args.exclude_degenerate,
        n_boot=args.bootstrap,
        seed=args.bootstrap_seed,
        level=args.level,
    )
    agreement = found.table
    notes = [*found.notes, *found.method, _AGREEMENT_NOTE]
    options.emit_table(
        args,
        agreement,
        views.agreement_columns,
        notes,
        as_json=lambda: json.dumps({"agreement": views.records(agreement), "notes": notes}, indent=2),
    )
    return 0


def _pair_columns() -> list:
    from harness.analysis.tables import fmt, fmt_ci

    return [
        ("dataset", lambda r: f"{r['space']} {r['dataset']}"),
        ("mode", lambda r: f"{r['data']}/{r['labels']}"),
        ("a", lambda r: r["proxy_a"]),
        ("b", lambda r: r["proxy_b"]),
        ("n", lambda r: fmt(r["n"])),
        ("a - b [95% CI]", lambda r: fmt_ci(r["delta"], r["delta_ci"])),
    ]


_PAIR_TITLE = "\npairwise differences of oriented rho (a - b) [paired 95% CI]\n"
_SEED_PAIR_TITLE = (
    "\npairwise differences of oriented rho (a - b), paired within each seed: mean over seeds [95% CI cells] "
    "[95% CI cells+seeds], and the share of seeds in which a is above b\n"
)


def _seed_pair_columns() -> list:
    from harness.analysis.tables import fmt, fmt_ci

    def both(r: dict) -> str:
        lo, hi = r["delta_combined_ci"]
        return f"{fmt_ci(r['delta'], r['delta_ci'])} [{fmt(lo)}, {fmt(hi)}]"

    return [
        ("dataset", lambda r: f"{r['space']} {r['dataset']}"),
        ("mode", lambda r: f"{r['data']}/{r['labels']}"),
        ("seeds", lambda r: fmt(r["n_seeds"])),
        ("a", lambda r: r["proxy_a"]),
        ("b", lambda r: r["proxy_b"]),
        ("n", lambda r: fmt(r["n"])),
        ("a - b", both),
        ("a above b", lambda r: f"{r['a_beats_b']:.0%}"),
    ]


_AGREEMENT_NOTE = (
    "correlations between the oriented scores of two proxies (negated when lower is better: +1 = they prefer the "
    "same cells) over every cell both scored; no accuracy involved"
)
_NOTE = (
    "ranked by oriented rho (rho, negated for lower-is-better proxies); all proxies of a setting on the same "
    "cells; ensemble(...) = sum over its proxies of log(rank/N), rank N = best"
)


def _against(args: argparse.Namespace) -> int:
    """``--against reference``: the user's proxy ranked among the committed reference scores."""
    import json

    from harness.analysis.inputs import load_scores
    from harness.analysis.reference import compare_to_reference, format_comparison, load_reference
    from harness.analysis.target import TargetSpec, target_loader

    if args.ensemble or args.agreement:
        raise ValueError("--against reference ranks one proxy; drop --ensemble / --agreement")
    names = [p.strip() for p in (args.proxies or "").split(",") if p.strip()]
    if len(names) > 1:
        raise ValueError("--against reference ranks one proxy: give --proxies NAME")
    data = getattr(args, "data_dir", None) or getattr(args, "data_root", None)
    result = compare_to_reference(
        load_scores(args.store, study=args.study),
        load_reference(args.reference_dir),
        target_loader(TargetSpec(split=args.split, epochs=args.epochs), data_dir=data),
        proxy=names[0] if names else None,
        n_boot=args.bootstrap,
        seed=getattr(args, "bootstrap_seed", getattr(args, "seed", 0)),
        level=args.level,
    )
    if args.json:
        table = result.table.replace({float("nan"): None}).to_dict("records")
        print(json.dumps({"proxy": result.proxy, "shared_cells": result.shared_cells, "table": table,
                          "notes": result.notes}, indent=2))  # fmt: skip
    else:
        print("\n".join(format_comparison(result)))
    return 0

"""Fidelity benchmark: do our proxies rank NB201 cells as NAS-Bench-Suite-Zero's published scores do?

Not a test: a script run by hand (10-60 min of CPU for 300 cells). It samples cells that the reference files
score, scores every registered proxy that the reference also has with the engine (real images of the dataset,
true labels, batch 64, seed 0), and writes per proxy the Spearman rank correlation with the reference.

    python benchmarks/scripts/fidelity.py --data ../shared/data                       # 300 cells, cifar10
    python benchmarks/scripts/fidelity.py --cells 50 --proxies snip,synflow --out /tmp/fid

References (under ``<data root>/reference-proxies/``, or ``--reference DIR``):
``nbsuitezero_cifar10_9445nets.csv`` (NAS-Bench-Suite-Zero, CIFAR-10, one column per proxy, ``net_str`` = arch)
and ``naslib_zc_nasbench201_725nets.json`` (an earlier NASLib run: cifar10, cifar100, ImageNet16-120, with
per-proxy seconds). Where a cell is in both, the agreement of the two references with each other is reported
too: it is the ceiling a re-implementation can be expected to reach (NASLib run twice does not agree with itself
on grasp or plain). Raw records go to ``scores_<dataset>.csv`` and a rerun resumes from them.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from harness.data import make_batch
from harness.errors import DataMissing
from harness.paths import find
from harness.proxies import parse_proxy_list, proxy_names
from harness.scoring import RECORD_FIELDS, resolve_device, score_cells
from harness.scoring.device import device_label
from harness.spaces import get_space

SUITE_CSV = "nbsuitezero_cifar10_9445nets.csv"
NASLIB_JSON = "naslib_zc_nasbench201_725nets.json"
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")  # NASLib op indices
SENTINEL = -1e8  # NASLib's ZeroCost predictor stores NaN/inf scores as -1e8: not a score, excluded
OK_STATUSES = ("ok", "degenerate")
# Proxies whose value does not depend on the batch's images or labels (an all-ones input, their own Gaussian
# inputs, or the weights alone): the only ones a run without the dataset's images can compare with the reference.
DATA_FREE = ("params", "flops", "synflow", "zen", "l2_norm")


def naslib_tuple_to_arch(text: str) -> str:
    """``"(e12, e13, e14, e23, e24, e34)"`` (NASLib op indices, edges between nodes 1..4) -> NB201 arch string."""
    e12, e13, e14, e23, e24, e34 = (NASLIB_OPS[i] for i in ast.literal_eval(text))
    return f"|{e12}~0|+|{e13}~0|{e23}~1|+|{e14}~0|{e24}~1|{e34}~2|"


def load_references(folder: Path, dataset: str) -> dict[str, dict[str, dict[str, float]]]:
    """{source: {arch: {proxy: score}}} for ``dataset``; also ``naslib725_seconds`` with the JSON's timings."""
    refs: dict[str, dict[str, dict[str, float]]] = {}
    if dataset == "cifar10" and (folder / SUITE_CSV).is_file():
        with (folder / SUITE_CSV).open() as f:
            rows = list(csv.DictReader(f))
        skip = {"net", "net_str"}
        refs["suitezero"] = {r["net_str"]: {k: float(v) for k, v in r.items() if k not in skip} for r in rows}
    if (folder / NASLIB_JSON).is_file():
        data = json.loads((folder / NASLIB_JSON).read_text()).get(dataset, {})
        scores, seconds = {}, {}
        for key, entry in data.items():
            arch = naslib_tuple_to_arch(key)
            cols = {k: v for k, v in entry.items() if isinstance(v, dict) and "score" in v}
            scores[arch] = {k: float(v["score"]) for k, v in cols.items()}
            seconds[arch] = {k: float(v["time"]) for k, v in cols.items() if "time" in v}
        if scores:
            refs["naslib725"] = scores
            refs["naslib725_seconds"] = seconds
    return refs


def choose_cells(refs: dict, n: int, seed: int) -> list[str]:
    """``n`` archs scored by the main reference, preferring those both references have (seeded sample)."""
    main = refs.get("suitezero") or refs.get("naslib725") or {}
    both = sorted(a for a in main if a in refs.get("naslib725", {})) if "suitezero" in refs else []
    rest = sorted(a for a in main if a not in set(both))
    rng = random.Random(seed)
    rng.shuffle(both)
    rng.shuffle(rest)
    return (both + rest)[:n]


def spearman(ours: dict[str, float], ref: dict[str, dict[str, float]], proxy: str) -> tuple[float, int]:
    pairs = [(v, ref[a][proxy]) for a, v in ours.items() if a in ref and proxy in ref[a]]
    pairs = [(x, y) for x, y in pairs if math.isfinite(y) and y != SENTINEL]
    if len(pairs) < 3:
        return float("nan"), len(pairs)
    x, y = np.array(pairs).T
    return float(spearmanr(x, y)[0]), len(pairs)


def read_records(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def score_into(
    raw_path: Path, indices: list[int], proxies: list[str], dataset: str, seed: int, args: argparse.Namespace,
    rescore: set[str],
) -> dict[tuple[int, str], dict]:  # fmt: skip
    """Score the units not yet in ``raw_path`` (appending, so a rerun resumes); return the latest record per unit."""
    setting = (dataset, args.data_mode, args.labels, str(args.batch_size), str(seed))

    def same_setting(r: dict) -> bool:
        return (r["dataset"], r["data"], r["labels"], r["batch_size"], r["seed"]) == setting

    wanted = {(i, p) for i in indices for p in proxies}
    done = {
        (int(r["index"]), r["proxy"])
        for r in read_records(raw_path)
        if same_setting(r) and not r["status"].startswith("error") and r["proxy"] not in rescore
    } & wanted
    todo = len(wanted) - len(done)
    print(f"{dataset}, seed {seed}: {len(indices)} cells x {len(proxies)} proxies ({', '.join(proxies)}); "
          f"{todo} units to score", file=sys.stderr)  # fmt: skip
    new_file = not raw_path.is_file()
    t0, count = time.monotonic(), 0
    with raw_path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RECORD_FIELDS)
        if new_file:
            writer.writeheader()
        for record in score_cells(
            "nb201", indices, proxies, dataset=dataset, data_mode=args.data_mode, label_mode=args.labels,
            batch_size=args.batch_size, seed=seed, device=args.device, data_dir=args.data,
            skip=lambda i, p: (i, p) in done,
        ):  # fmt: skip
            writer.writerow(record.as_dict())
            f.flush()
            count += 1
            if count % 50 == 0:
                rate = count / (time.monotonic() - t0)
                print(
                    f"  {count}/{todo} units, {rate:.2f}/s, ETA {(todo - count) / rate / 60:.1f} min", file=sys.stderr
                )
    latest: dict[tuple[int, str], dict] = {}
    for r in read_records(raw_path):  # a rerun may have appended a newer record: the last one wins
        if same_setting(r) and (int(r["index"]), r["proxy"]) in wanted:
            latest[(int(r["index"]), r["proxy"])] = r
    return latest


def run_dataset(args: argparse.Namespace, dataset: str, folder: Path) -> list[dict] | None:
    refs = load_references(folder, dataset)
    main_name = "suitezero" if "suitezero" in refs else "naslib725"
    if main_name not in refs:
        print(f"skipping {dataset}: no reference scores for it in {folder}", file=sys.stderr)
        return None
    try:
        make_batch(dataset, args.batch_size, args.data_mode, args.labels, args.seed, args.data)
    except DataMissing as exc:
        print(f"skipping {dataset}: {exc}", file=sys.stderr)
        return None
    ref_proxies = {p for scores in refs[main_name].values() for p in scores}
    wanted = parse_proxy_list(args.proxies) if args.proxies else proxy_names()
    proxies = [p for p in wanted if p in ref_proxies]
    if (args.data_mode, args.labels) != ("real", "true"):  # only scores that do not depend on the batch compare
        dropped = [p for p in proxies if p not in DATA_FREE]
        proxies = [p for p in proxies if p in DATA_FREE]
        if dropped:
            kept = ", ".join(proxies) or "none"
            print(f"{dataset}: {args.data_mode} data / {args.labels} labels: leaving out {', '.join(dropped)} "
                  f"(their reference used real images); comparing {kept}", file=sys.stderr)  # fmt: skip
    if not proxies:
        print(f"skipping {dataset}: none of {', '.join(wanted)} is in the reference", file=sys.stderr)
        return None
    archs = choose_cells(refs, args.cells, args.sample_seed)
    sp = get_space("nb201")
    index_of = {sp.resolve(a): a for a in archs}

    raw_path = args.out / f"scores_{dataset}.csv"
    rescore = {p.strip() for p in args.rescore.split(",") if p.strip()}
    latest = score_into(raw_path, sorted(index_of), proxies, dataset, args.seed, args, rescore)
    noise: dict[tuple[int, str], dict] = {}
    if args.noise_seed is not None:
        noise_cells = sorted(index_of)[: args.noise_cells]
        noise = score_into(raw_path, noise_cells, proxies, dataset, args.noise_seed, args, rescore)
    rows = []
    for proxy in proxies:
        recs = [latest[(i, proxy)] for i in index_of if (i, proxy) in latest]
        ours = {index_of[int(r["index"])]: float(r["score"]) for r in recs if r["status"] in OK_STATUSES}
        main_rho, n_main = spearman(ours, refs[main_name], proxy)
        row = {
            "proxy": proxy,
            "batch": f"{args.data_mode}/{args.labels}",
            "n": n_main,
            "spearman": round(main_rho, 4),
            "reference": main_name,
            "our_median_s": round(statistics.median(float(r["seconds"]) for r in recs), 4) if recs else None,
            "failed": sum(r["status"] not in OK_STATUSES for r in recs),
        }
        if main_name == "suitezero" and "naslib725" in refs:
            rho, n = spearman(ours, refs["naslib725"], proxy)
            common = {a: refs["suitezero"][a][proxy] for a in ours if a in refs["naslib725"]}
            ceiling, _ = spearman(common, refs["naslib725"], proxy)
            row.update({"n_725": n, "spearman_725": round(rho, 4), "ref_vs_ref_725": round(ceiling, 4)})
        timings = refs.get("naslib725_seconds", {})
        ref_secs = [timings[a][proxy] for a in ours if proxy in timings.get(a, {})]
        row["ref_median_s_725"] = round(statistics.median(ref_secs), 4) if ref_secs else None
        if noise:
            ok = [(i, noise[(i, proxy)]) for i in index_of if (i, proxy) in noise]
            other = {index_of[i]: float(r["score"]) for i, r in ok if r["status"] in OK_STATUSES}
            mine = {a: {proxy: v} for a, v in ours.items()}
            rho, n = spearman(other, mine, proxy)
            row.update({"n_noise": n, f"ours_seed{args.seed}_vs_seed{args.noise_seed}": round(rho, 4)})
        if proxy == "params":
            diffs = [abs(v - refs[main_name][a][proxy]) for a, v in ours.items() if a in refs[main_name]]
            row["max_abs_diff"] = max(diffs) if diffs else None
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=300, help="number of reference cells to score (default 300)")
    parser.add_argument("--proxies", default=None, help="comma list; default: every registered proxy in the reference")
    parser.add_argument("--datasets", default="cifar10", help="comma list of cifar10, cifar100, ImageNet16-120")
    parser.add_argument("--data", default=None, help="data root (else $NASI_HARNESS_DATA, $TORCH_HOME, ~/.torch)")
    parser.add_argument("--reference", type=Path, default=None, help="folder of the reference files")
    parser.add_argument("--out", type=Path, default=Path("results/fidelity"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0, help="scoring seed: initial weights and batch (default 0)")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the choice of cells (default 0)")
    parser.add_argument(
        "--noise-seed",
        type=int,
        default=None,
        help="also score the first --noise-cells cells with this seed and report our own "
        "seed-to-seed Spearman (the noise a reference comparison cannot beat)",
    )
    parser.add_argument("--noise-cells", type=int, default=100)
    parser.add_argument(
        "--data-mode",
        default="real",
        help="batch images (default real); any other mode compares only the data-free proxies "
        "(params, flops, synflow, zen, l2_norm), e.g. for CIFAR-100 / ImageNet16-120 without their images",
    )
    parser.add_argument("--labels", default="true", help="label mode of the batch (default true)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--rescore", default="", help="comma list of proxies to score again despite saved records")
    args = parser.parse_args(argv)
    if args.cells < 3:
        parser.error("--cells must be >= 3")
    folder = args.reference or find("reference-proxies", args.data)
    if folder is None or not folder.is_dir():
        parser.error("reference scores not found: pass --reference DIR or --data DIR holding reference-proxies/")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    machine = (f"{device_label(device)}; {platform.processor() or platform.machine()}; {os.cpu_count()} CPUs; "
               f"torch {torch.__version__}, {torch.get_num_threads()} threads")  # fmt: skip
    for dataset in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        t0 = time.monotonic()
        rows = run_dataset(args, dataset, Path(folder))
        if rows is None:
            continue
        table = args.out / f"fidelity_{dataset}.csv"
        fields = list(dict.fromkeys(k for r in rows for k in r))
        with table.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        meta = {
            "command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
            "machine": machine,
            "dataset": dataset,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "wall_s_this_run": round(time.monotonic() - t0, 1),
        }
        (args.out / f"run_{dataset}.json").write_text(json.dumps(meta, indent=2) + "\n")
        print(f"# {dataset}: {meta['command']} on {machine}")
        print("| " + " | ".join(fields) + " |")
        print("|" + "---|" * len(fields))
        for r in rows:
            print("| " + " | ".join("" if r.get(k) is None else str(r[k]) for k in fields) + " |")
        print(f"wrote {table}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Ground-truth accuracies (and params/FLOPs/latency) for NAS-Bench-201 / NATS-Bench cells, from any source.

``load_accuracy(space, dataset, split, epochs, data_dir=..., seed_avg=True)`` returns a ``pd.Series`` of accuracy
in percent indexed by cell index, named like ``cifar10/test/200ep``, with ``.attrs["provenance"]`` (source,
file, version, dataset, split and its meaning, epochs, seed handling, cells covered, cache file).

Sources, auto-detected in the data root (``data_dir`` or ``--data-dir DIR``, else ``$NASI_HARNESS_DATA``,
else ``$TORCH_HOME`` and ``~/.torch``), directly or one folder down, tried in this order (complete sources
before partial ones):

1. NATS-Bench ``NATS-tss-v1_0-3ffb9-simple/`` / ``NATS-sss-v1_0-50262-simple/`` (through ``nats_bench``,
   fast mode, extracted in parallel) and the single-file ``NATS-*.pickle.pbz2`` forms;
2. NAS-Bench-201 ``NAS-Bench-201-v1_1-096897.pth`` then ``-v1_0-e61699.pth`` (through ``nas_201_api``, made to
   load under torch >= 2.6 without a second copy in memory; the first read needs tens of GB of RAM);
3. CSV tables in the layout of the reference data's ``nb201/`` folder (NAS-Bench-201 space only).

A source that is present but wrong (a CSV table missing a column, truncated, out of order or holding a value
outside 0..100; an official file whose MD5 does not match its name or that its API cannot read; an unreadable
per-cell archive file) raises ``GroundTruthBroken`` naming the file and the problem: never a fallback to the
next source. ``docs/security.md`` says what is checked before an official file is unpickled.

Split meanings per dataset are in ``harness.groundtruth.spec`` (CIFAR-10: ``cifar10-valid`` has
train/valid/test with the model trained on the train half; ``cifar10`` has train/test with the model trained
on train+valid; CIFAR-100 and ImageNet16-120: ``valid`` and ``test`` are the two halves of the original test
set, ``valtest`` the whole of it).

Cache: an official file is read through its API once and extracted (every dataset, split, schedule, the
seed-averaged and a single-seed value, seed counts, and costs) into one compressed ``.npz`` under
``harness.paths.cache_dir() / "groundtruth"`` -- by default ``~/.cache/nasi-harness/groundtruth/``
(``$NASI_HARNESS_CACHE`` or ``$XDG_CACHE_HOME`` move it). The name includes a hash of the source's path, size
and modification time, so a changed source is re-extracted; the files can be deleted at any time. Later
lookups of all 15,625 accuracies read one column and take milliseconds. CSV tables are read directly.
"""

from harness.groundtruth.api import PartialGroundTruth, describe_sources, load_accuracy, load_costs
from harness.groundtruth.errors import GroundTruthBroken, GroundTruthMissing
from harness.groundtruth.spec import DATASETS, EPOCHS, SPLITS

__all__ = [
    "DATASETS",
    "EPOCHS",
    "SPLITS",
    "GroundTruthBroken",
    "GroundTruthMissing",
    "PartialGroundTruth",
    "describe_sources",
    "load_accuracy",
    "load_costs",
]

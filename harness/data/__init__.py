"""Mini-batches for scoring architectures at initialisation: real images, synthetic inputs, swapped labels.

``make_batch(dataset, batch_size, data_mode, label_mode, seed, data_dir)`` returns a ``Batch`` of normalised
float32 inputs [B, 3, R, R] (R = the dataset's resolution) and int64 targets in [0, num_classes).

Files (official python layouts, looked for in each data root of ``harness.paths`` and its ``cifar.python/``):
CIFAR-10 ``cifar-10-batches-py/data_batch_1..5`` / ``test_batch`` (also used for cifar10-valid: the batch is
drawn from all 50,000 training images, not only NAS-Bench-201's 25,000-image train half); CIFAR-100
``cifar-100-python/train`` / ``test`` (``fine_labels``); ImageNet16-120 ``ImageNet16/train_data_batch_1..10``
/ ``val_data`` (1-based labels over 1000 classes; labels 1..120 kept as 0..119, as NAS-Bench-201 did). The
training split is used when present, else the test split; ``Batch.source`` says which. Images are
normalised with the dataset's mean/std as the benchmarks trained them, without augmentation (no crop or
flip), so the batch is a pure function of the seed.

Alignment (what the agnosticism study relies on): a seed fixes the sample indices drawn from a dataset
whatever the modes, and each random stream (indices, gaussian, uniform, labels, shuffle) has its own
generator derived from the seed, so swapping only the data keeps the labels of the reference batch
(real data + true labels) and swapping only the labels keeps its images.

Data modes:
- ``real``: the drawn images.
- ``gaussian``: i.i.d. N(0, 1) in the normalised input space (NASI's random data).
- ``uniform``: i.i.d. uniform over the range of normalised real pixels, ((0-mean)/std .. (1-mean)/std) per
  channel: the image of uniformly random pixel values under the same normalisation as real data.
- ``repeat``: the first drawn image repeated B times.
- ``other:<dataset>``: images drawn (same seed) from another dataset, resized bilinearly to this dataset's
  resolution when they differ and normalised with THIS dataset's mean/std. ``other:<same dataset>`` (or
  cifar10 vs cifar10-valid, which share images) is a ``ValueError``.

Label modes: ``true`` (the labels of the real batch the seed draws, also with synthetic or other data, so
such pairs need the dataset: see ``requires_dataset``), ``random`` (uniform over the classes, seeded),
``shuffled`` (a seeded permutation of the batch's true labels).

Errors: unknown modes or a batch larger than the available images -> ``ValueError``; absent files ->
``harness.errors.DataMissing`` with one line saying what was looked for, where, and how to obtain it.
"""

from __future__ import annotations

from harness.data.batch import Batch, make_batch
from harness.data.layouts import describe_datasets
from harness.data.loaders import check_datasets, clear_cache
from harness.data.modes import DATA_MODES, LABEL_MODES, requires_dataset, validate_modes

__all__ = [
    "DATA_MODES",
    "LABEL_MODES",
    "Batch",
    "check_datasets",
    "clear_cache",
    "describe_datasets",
    "make_batch",
    "requires_dataset",
    "validate_modes",
]

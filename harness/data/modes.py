"""Data and label modes: parsing, validation, and which dataset files a combination needs."""

from __future__ import annotations

from harness.datasets import DATASETS

DATA_MODES = ("real", "gaussian", "uniform", "repeat", "other:<dataset>")  # documentation form
LABEL_MODES = ("true", "random", "shuffled")

OTHER_PREFIX = "other:"
SYNTHETIC_MODES = ("gaussian", "uniform")  # inputs drawn from a generator, no image files
OWN_DATA_MODES = ("real", "repeat")  # inputs taken from the target dataset's images
OWN_LABEL_MODES = ("true", "shuffled")  # labels taken from the target dataset's real batch


def other_dataset(data_mode: str) -> str | None:
    """The dataset named by ``other:<dataset>``, or None for any other mode (no validation)."""
    if isinstance(data_mode, str) and data_mode.startswith(OTHER_PREFIX):
        return data_mode[len(OTHER_PREFIX) :]
    return None


def validate_modes(data_mode: str, label_mode: str) -> None:
    """Raise ``ValueError`` naming the allowed values when either mode is not recognised."""
    if not isinstance(data_mode, str):
        raise ValueError(f"data mode must be a string, got {data_mode!r}; expected one of {', '.join(DATA_MODES)}")
    other = other_dataset(data_mode)
    if other is not None:
        if other not in DATASETS:
            raise ValueError(
                f"data mode {data_mode!r}: unknown dataset {other!r}; expected other:<dataset> with dataset one of "
                f"{', '.join(DATASETS)}"
            )
    elif data_mode not in DATA_MODES:
        raise ValueError(f"unknown data mode {data_mode!r}; expected one of {', '.join(DATA_MODES)}")
    if label_mode not in LABEL_MODES:
        raise ValueError(f"unknown label mode {label_mode!r}; expected one of {', '.join(LABEL_MODES)}")


def needs_target_dataset(data_mode: str, label_mode: str) -> bool:
    """Whether the target dataset's files are needed: for its images or for its real batch's labels."""
    return data_mode in OWN_DATA_MODES or label_mode in OWN_LABEL_MODES


def requires_dataset(data_mode: str, label_mode: str) -> bool:
    """Whether this combination needs any dataset files (the target's, or another's for ``other:``)."""
    validate_modes(data_mode, label_mode)
    return other_dataset(data_mode) is not None or needs_target_dataset(data_mode, label_mode)

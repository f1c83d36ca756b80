"""A restricted unpickler for the official dataset batches (CIFAR-10/100 python pickles, ImageNet16 batches) and
benchmark files (NATS-Bench ``.pickle.pbz2``, NAS-Bench-201 ``.pth``).

Why: a pickle names the functions it calls while loading, so a crafted ``test_batch`` whose ``__reduce__``
returns ``os.system`` runs a command inside a plain ``pickle.load``, before any check of the result. The
official files use only dicts, lists, tuples, bytes, str, numbers and NumPy arrays (pickled by NumPy as a
call to ``_reconstruct`` with ``ndarray`` and ``dtype``); this unpickler admits exactly those names and
refuses any other global with one line naming the file and the global, before anything is called.

The benchmark files hold the same kinds of data (dicts, lists, str, numbers, NumPy scalars) plus
``collections.OrderedDict`` and sets: ``BENCHMARK_ALLOWED`` adds exactly those. ``nats_bench`` reads its files
through ``load_benchmark`` (``harness.groundtruth.official`` routes its ``pickle_load`` here), and
``torch_load_benchmark`` hands the same unpickler to ``torch.load`` for the NAS-Bench-201 ``.pth``.
"""

from __future__ import annotations

import _codecs
import io
import os
import pickle
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from harness.errors import HarnessError


class UnsafePickle(HarnessError):
    """A dataset or benchmark file references a callable that no official file of its kind uses; nothing in it
    was run."""


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:  # ndarray subclasses could run their own code in __array_finalize__
        raise pickle.UnpicklingError(f"array subtype {subtype!r} is not numpy.ndarray")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """NumPy's protocol-5 form of an array (a buffer, dtype, shape and order)."""
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _scalar(dtype: np.dtype, data: bytes = b"") -> Any:
    """A NumPy scalar (``numpy.float64(1.5)`` as NumPy pickles it): the dtype and its raw bytes."""
    if isinstance(data, str):  # a Python 2 pickle read with encoding="latin1"
        data = data.encode("latin1")
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise pickle.UnpicklingError(f"numpy scalar of dtype {dtype!r} is not plain data")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _encode(text: str, encoding: str = "utf-8") -> bytes:
    """How Python 3 writes ``bytes`` into a protocol-2 pickle: ``_codecs.encode(text, 'latin1')``."""
    if encoding.replace("-", "").lower() not in ("latin1", "utf8", "ascii") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"bytes encoded as {encoding!r}")
    return _codecs.encode(text, encoding)


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMERIC_MODULES = ("numpy.core.numeric", "numpy._core.numeric")
ALLOWED: dict[tuple[str, str], Any] = {
    **{(module, "_reconstruct"): _reconstruct for module in _NUMPY_MODULES},
    **{(module, "scalar"): _scalar for module in _NUMPY_MODULES},
    **{(module, "_frombuffer"): _frombuffer for module in _NUMERIC_MODULES},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _encode,
}


# The benchmark files also hold OrderedDicts and sets (a protocol-2 pickle, e.g. torch.save's, names the set
# class; Python 3 writes it under its Python 2 module name ``__builtin__``).
BENCHMARK_ALLOWED: dict[tuple[str, str], Any] = {
    **ALLOWED,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("__builtin__", "set"): set,
}
_ADMITS = {
    "dataset": "which no official dataset file does (only dicts, lists, tuples, bytes, str, numbers and numpy arrays "
    "are read)",
    "benchmark": "which no official benchmark file does (only dicts, lists, sets, str, numbers and numpy scalars "
    "are read)",
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, stream: IO[bytes], allowed: dict[tuple[str, str], Any], **kwargs: Any) -> None:
        kwargs.setdefault("encoding", "latin1")
        super().__init__(stream, **kwargs)
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None


class _Refused(pickle.UnpicklingError):
    """Internal: carries the refused global's name out of the unpickler."""


def refusal(origin: str, what: str, kind: str = "benchmark") -> UnsafePickle:
    """The one-line error for a file that names ``what`` (a global, or torch's reason), which is not admitted."""
    return UnsafePickle(f"{origin}: refused to unpickle: it calls {what}, {_ADMITS[kind]}; nothing in it was run")


def _unpickle(stream: IO[bytes], origin: str, kind: str = "dataset") -> Any:
    allowed = BENCHMARK_ALLOWED if kind == "benchmark" else ALLOWED
    try:
        return _RestrictedUnpickler(stream, allowed).load()
    except _Refused as exc:
        raise refusal(origin, str(exc), kind) from None


def loads(data: bytes, origin: str) -> Any:
    """Unpickle ``data`` admitting only the official dataset types; ``UnsafePickle`` naming ``origin`` otherwise."""
    return _unpickle(io.BytesIO(data), origin)


def load(path: str | os.PathLike) -> Any:
    """``loads`` of a file, streamed (an ImageNet16 batch is hundreds of MB); the error names the file."""
    with open(path, "rb") as stream:
        return _unpickle(stream, str(path))


def load_benchmark(stream: IO[bytes], origin: str) -> Any:
    """Unpickle an open benchmark file (e.g. a ``bz2`` stream) admitting ``BENCHMARK_ALLOWED`` only;
    ``UnsafePickle`` naming ``origin`` otherwise."""
    return _unpickle(stream, origin, "benchmark")


class _BenchmarkUnpickler(_RestrictedUnpickler):
    def __init__(self, stream: IO[bytes], **kwargs: Any) -> None:
        super().__init__(stream, BENCHMARK_ALLOWED, **kwargs)


class _TorchPickleModule:
    """The two names ``torch.load(..., pickle_module=...)`` uses of a pickle module, admitting only
    ``BENCHMARK_ALLOWED`` (torch subclasses ``Unpickler`` and still sends every global through its
    ``find_class``)."""

    Unpickler = _BenchmarkUnpickler

    @staticmethod
    def load(stream: IO[bytes], **kwargs: Any) -> Any:
        return _BenchmarkUnpickler(stream, **kwargs).load()


def torch_load_benchmark(f: Any, origin: str, **kwargs: Any) -> Any:
    """``torch.load`` of a NAS-Bench-201 ``.pth`` (zip or legacy format) admitting only ``BENCHMARK_ALLOWED``;
    ``UnsafePickle`` naming ``origin`` otherwise.

    Not ``weights_only=True``: torch's own restricted unpickler is written in Python and read a NAS-Bench-201-like
    file several times slower than this C unpickler with the same allow-list (docs/security.md), too slow for
    the 2 GB official files."""
    import torch

    try:
        return torch.load(f, weights_only=False, pickle_module=_TorchPickleModule, **kwargs)
    except _Refused as exc:
        raise refusal(origin, str(exc)) from None

"""A restricted unpickler for the official dataset batches (CIFAR-10/100 python pickles, ImageNet16 batches).

Why: a pickle names the functions it calls while loading, so a crafted ``test_batch`` whose ``__reduce__``
returns ``os.system`` runs a command inside a plain ``pickle.load``, before any check of the result. The
official files use only dicts, lists, tuples, bytes, str, numbers and NumPy arrays (pickled by NumPy as a
call to ``_reconstruct`` with ``ndarray`` and ``dtype``); this unpickler admits exactly those names and
refuses any other global with one line naming the file and the global, before anything is called.
"""

from __future__ import annotations

import _codecs
import io
import os
import pickle
from typing import IO, Any

import numpy as np

from harness.errors import HarnessError


class UnsafePickle(HarnessError):
    """A dataset file references a callable that no official dataset file uses; nothing in it was run."""


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


class _DatasetUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None


class _Refused(pickle.UnpicklingError):
    """Internal: carries the refused global's name out of the unpickler."""


def _unpickle(stream: IO[bytes], origin: str) -> Any:
    try:
        return _DatasetUnpickler(stream, encoding="latin1").load()
    except _Refused as exc:
        raise UnsafePickle(
            f"{origin}: refused to unpickle: it calls {exc}, which no official dataset file does (only dicts, "
            "lists, tuples, bytes, str, numbers and numpy arrays are read); nothing in it was run"
        ) from None


def loads(data: bytes, origin: str) -> Any:
    """Unpickle ``data`` admitting only the official dataset types; ``UnsafePickle`` naming ``origin`` otherwise."""
    return _unpickle(io.BytesIO(data), origin)


def load(path: str | os.PathLike) -> Any:
    """``loads`` of a file, streamed (an ImageNet16 batch is hundreds of MB); the error names the file."""
    with open(path, "rb") as stream:
        return _unpickle(stream, str(path))

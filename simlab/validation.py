"""Input checks shared by several simlab modules: numbers, matrices of vectors, whole numbers.

Each check returns the value in the form the caller computes with, or raises ``ValueError``
with a message that names the argument, says what is wrong and, where there is one, the usual
fix. :mod:`simlab.metrics`, :mod:`simlab.search`, :mod:`simlab.hashes` and
:mod:`simlab.collection` use them, so one kind of mistake gets one wording everywhere.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_matrix", "as_numbers", "check_finite", "unit_rows", "whole_number", "zero_row_error"]


def whole_number(value, name: str, minimum: int = 1) -> int:
    """``value`` as an ``int`` when it is a whole number >= ``minimum``.

    Python and NumPy integers are accepted; ``bool``, floats (even ``2.0``) and anything else are
    not. Raises ``ValueError``: ``"{name} must be a whole number >= {minimum}, got {value!r}"``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def as_numbers(x, name: str) -> np.ndarray:
    """``x`` as a NumPy array of real numbers (torch tensors converted without importing torch)."""
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):  # a torch.Tensor
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
            x = x.float()
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:  # e.g. rows of different lengths
        raise ValueError(f"{name} cannot be read as an array of numbers ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must hold real numbers, but it has dtype {arr.dtype} "
            f"(a {type(x).__name__}); convert it first, e.g. np.asarray({name}, dtype=float)"
        )
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    if np.isfinite(np.sum(arr)):  # fast path (scikit-learn's): NaN and inf make the sum non-finite
        return
    bad = ~np.isfinite(arr)  # the sum may also have overflowed: look at every element
    if bad.any():
        where = np.argwhere(bad)[0]
        if arr.ndim == 1:
            place, fix = f"index {where[0]}", ""
        else:
            place, fix = f"row {where[0]}, column {where[1]}", ", or drop that row"
        raise ValueError(
            f"{name} contains NaN or infinity (first at {place}): a distance needs finite "
            f"numbers, so find where the NaN or infinity comes from{fix}"
        )


def as_matrix(x, name: str) -> np.ndarray:
    """``x`` as a finite, non-empty 2-D float array (float32 and float64 kept, others float64)."""
    arr = as_numbers(x, name)
    if arr.ndim == 1:
        raise ValueError(
            f"{name} has shape {arr.shape}, a single vector, but one vector per row (N, d) is "
            f"expected: use {name}.reshape(1, -1) for one vector"
        )
    if arr.ndim != 2:
        raise ValueError(
            f"{name} has shape {arr.shape}, but a 2-D array (N, d) with one vector per row is "
            f"expected; pool feature maps into vectors first, e.g. with simlab.embed"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}): there is nothing to compare")
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    check_finite(arr, name)
    return arr


def unit_rows(X: np.ndarray, name: str) -> np.ndarray:
    """A copy of ``X`` with every row divided by its length; refuse a zero row."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        norms = np.sqrt(np.einsum("ij,ij->i", X, X))  # scikit-learn's row_norms
        unit = X / norms[:, None]
    # Rare: a zero row, or one whose squared length under- or overflows; redo those rows scaled.
    for i in np.flatnonzero(~np.isfinite(norms) | (norms == 0)):
        largest = np.max(np.abs(X[i]))
        if largest == 0:
            raise zero_row_error(i, name)
        row = X[i] / largest
        unit[i] = row / np.linalg.norm(row)
    return unit


def zero_row_error(i: int, name: str) -> ValueError:
    """The error for row ``i`` of ``name`` being all zeros (no direction, so no cosine)."""
    return ValueError(
        f"row {i} of {name} is a zero vector (all zeros): it has no "
        "direction, so cosine similarity is undefined for it; drop that row, use a "
        "distance metric, or check why its features are all zero"
    )

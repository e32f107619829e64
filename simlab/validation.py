"""Input checks shared by several simlab modules: numbers, matrices of vectors, whole numbers.

Each check returns the value in the form the caller computes with, or raises ``ValueError``
with a message that names the argument, says what is wrong and, where there is one, the usual
fix. :mod:`simlab.metrics`, :mod:`simlab.search`, :mod:`simlab.hashes` and
:mod:`simlab.collection` use them, so one kind of mistake gets one wording everywhere.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_indices", "as_matrix", "as_numbers", "as_vector", "check_finite", "unit_rows", "whole_number",
           "zero_row_error"]


def whole_number(value, name: str, minimum: int = 1) -> int:
    """``value`` as an ``int`` when it is a whole number >= ``minimum``.

    Parameters
    ----------
    value : object
        Python and NumPy integers are accepted; ``bool``, floats (even ``2.0``) and anything else
        are not.
    name : str
        How the error message calls the value.
    minimum : int, optional
        The smallest value accepted.

    Returns
    -------
    int
        ``value`` itself.

    Raises
    ------
    ValueError
        ``"{name} must be a whole number >= {minimum}, got {value!r}"``.

    Examples
    --------
    >>> from simlab.validation import whole_number
    >>> whole_number(3, "k")
    3
    >>> whole_number(2.0, "k")
    Traceback (most recent call last):
        ...
    ValueError: k must be a whole number >= 1, got 2.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def as_numbers(x, name: str) -> np.ndarray:
    """``x`` as a NumPy array of real numbers (torch tensors converted without importing torch).

    Parameters
    ----------
    x : array_like or torch.Tensor
        Numbers of any shape; a tensor may be on any device, with gradients or in bfloat16.
    name : str
        How error messages call ``x``.

    Returns
    -------
    numpy.ndarray
        Of a bool, integer or float dtype.

    Raises
    ------
    ValueError
        When ``x`` cannot be read as an array (e.g. rows of different lengths), or holds something
        other than real numbers (naming its dtype).

    Examples
    --------
    >>> from simlab.validation import as_numbers
    >>> as_numbers([[1, 2], [3, 4]], "X").shape
    (2, 2)
    >>> as_numbers(["a"], "X")
    Traceback (most recent call last):
        ...
    ValueError: X must hold real numbers, but it has dtype <U1 (a list); ...
    """
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
    """Refuse an array that holds NaN or infinity, naming the first place.

    Parameters
    ----------
    arr : numpy.ndarray
        1-D or 2-D numbers.
    name : str
        How the error message calls ``arr``.

    Raises
    ------
    ValueError
        Naming the first index (1-D) or row and column (2-D) that is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.validation import check_finite
    >>> check_finite(np.array([[1.0, np.nan]]), "X")
    Traceback (most recent call last):
        ...
    ValueError: X contains NaN or infinity (first at row 0, column 1): ...
    """
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
    """``x`` as a finite, non-empty 2-D float array, one vector per row.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (N, d)
        Numbers, as :func:`as_numbers` accepts them.
    name : str
        How error messages call ``x``.

    Returns
    -------
    numpy.ndarray, shape (N, d)
        float32 and float64 kept (float16 becomes float32), anything else float64.

    Raises
    ------
    ValueError
        For a single vector (with the ``reshape(1, -1)`` fix), an array that is not 2-D, an empty
        one, NaN or infinity, and whatever :func:`as_numbers` refuses.

    Examples
    --------
    >>> from simlab.validation import as_matrix
    >>> as_matrix([[1, 2], [3, 4]], "X").dtype
    dtype('float64')
    >>> as_matrix([1, 2], "X")
    Traceback (most recent call last):
        ...
    ValueError: X has shape (2,), a single vector, but one vector per row (N, d) is expected: ...
    """
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
    """A copy of ``X`` with every row divided by its length; refuse a zero row.

    Rows whose squared length under- or overflows are scaled first, so any finite non-zero row
    gets length 1.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, d)
        Finite floats, as :func:`as_matrix` returns them.
    name : str
        How the error message calls ``X``.

    Returns
    -------
    numpy.ndarray, shape (N, d)
        Of the dtype of ``X``.

    Raises
    ------
    ValueError
        For a row of zeros (see :func:`zero_row_error`).

    Examples
    --------
    >>> import numpy as np
    >>> from simlab.validation import unit_rows
    >>> unit_rows(np.array([[3.0, 4.0], [0.0, 2.0]]), "X").tolist()
    [[0.6, 0.8], [0.0, 1.0]]
    """
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
    """The error for row ``i`` of ``name`` being all zeros (no direction, so no cosine).

    Parameters
    ----------
    i : int
        The row.
    name : str
        How the message calls the matrix.

    Returns
    -------
    ValueError
        To be raised by the caller (it raises nothing itself).

    Examples
    --------
    >>> from simlab.validation import zero_row_error
    >>> str(zero_row_error(2, "X"))
    'row 2 of X is a zero vector (all zeros): it has no direction, so cosine similarity is ...'
    """
    return ValueError(
        f"row {i} of {name} is a zero vector (all zeros): it has no "
        "direction, so cosine similarity is undefined for it; drop that row, use a "
        "distance metric, or check why its features are all zero"
    )


def as_vector(x, name: str) -> np.ndarray:
    """``x`` as a finite, non-empty 1-D float64 array.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (d,)
        Numbers, as :func:`as_numbers` accepts them.
    name : str
        How error messages call ``x``.

    Returns
    -------
    numpy.ndarray of float64, shape (d,)
        A copy only where a conversion was needed.

    Raises
    ------
    ValueError
        For a single number, an array that is not 1-D (with the ``ravel()`` fix), an empty one,
        NaN or infinity, and whatever :func:`as_numbers` refuses.

    Examples
    --------
    >>> from simlab.validation import as_vector
    >>> as_vector([1, 2], "a").tolist()
    [1.0, 2.0]
    """
    arr = as_numbers(x, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} is a single number, but a 1-D vector is expected")
    if arr.ndim != 1:
        raise ValueError(
            f"{name} has shape {arr.shape}, but a 1-D vector is expected: flatten it with "
            f"{name}.ravel(), or use pairwise() to compare the rows of two matrices"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty: there is nothing to compare")
    arr = arr.astype(np.float64, copy=False)
    check_finite(arr, name)
    return arr


def as_indices(x, name: str) -> np.ndarray:
    """``x`` as a non-empty (Nq, k) int64 array of row indices.

    Parameters
    ----------
    x : array_like or torch.Tensor, shape (Nq, k)
        Integers.
    name : str
        How error messages call ``x``.

    Returns
    -------
    numpy.ndarray of int64, shape (Nq, k)
        A copy only where a conversion was needed.

    Raises
    ------
    ValueError
        For a shape that is not 2-D or is empty, and a dtype that is not integer.

    Examples
    --------
    >>> from simlab.validation import as_indices
    >>> as_indices([[0, 1], [2, 3]], "found").dtype
    dtype('int64')
    """
    arr = as_numbers(x, name)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(
            f"{name} has shape {arr.shape}, but a non-empty (Nq, k) array of indices is expected"
        )
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer indices, but it has dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)

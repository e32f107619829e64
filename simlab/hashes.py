"""Perceptual hashes: a photo summarised as a short bit string that survives small edits.

A perceptual hash shrinks the image to a tiny grayscale grid and keeps one bit per cell
(brighter than the mean? brighter than its neighbour? above the median frequency?). Photos that
look alike get bit strings that differ in few places, so the Hamming distance between two hashes
(:func:`simlab.metrics.hamming_distance`) is a cheap measure of how different two photos look.
Unlike CNN features it knows nothing about content: it finds near-duplicates (recompressed,
resized, slightly edited copies), not "another photo of a cat".

The hashes themselves come from the ``imagehash`` library; this module only loads the image
with :func:`simlab.images.load_image` and turns the hash into a string of ``'0'`` and ``'1'``.
"""

from __future__ import annotations

import imagehash

from .images import load_image
from .validation import whole_number

__all__ = ["HASH_METHODS", "hash_bits"]

#: The hash methods of :func:`hash_bits`, each an ``imagehash`` function.
HASH_METHODS = {
    "phash": imagehash.phash,  # sign of the low DCT frequencies against their median
    "dhash": imagehash.dhash,  # is each pixel brighter than its right-hand neighbour?
    "ahash": imagehash.average_hash,  # is each pixel brighter than the mean?
    "whash": imagehash.whash,  # Haar wavelet low frequencies against their median
}


def hash_bits(image, *, method: str = "phash", hash_size: int = 8) -> str:
    """The perceptual hash of ``image`` as a string of ``hash_size**2`` characters ``'0'``/``'1'``.

    Bits are read row by row. Compare two hashes with :func:`simlab.metrics.hamming_distance`: 0
    means the images look the same to the hash.

    Parameters
    ----------
    image : str, pathlib.Path, PIL.Image.Image or numpy.ndarray
        Anything :func:`simlab.images.load_image` accepts.
    method : {"phash", "dhash", "ahash", "whash"}, optional
        ``"phash"`` (DCT, the most robust to edits), ``"dhash"`` (brightness gradients),
        ``"ahash"`` (brightness against the mean) or ``"whash"`` (wavelets); see
        :data:`HASH_METHODS`.
    hash_size : int, optional
        The side of the grid, >= 2 (a power of 2 for ``"whash"``): 8 gives 64 bits.

    Returns
    -------
    str
        ``hash_size**2`` characters, each ``'0'`` or ``'1'``.

    Raises
    ------
    ValueError
        For an unknown method (listing the valid ones) or a ``hash_size`` below 2 (or, for
        ``"whash"``, one that is not a power of 2).
    simlab.images.ImageError
        For an image that cannot be loaded (a subclass of ``ValueError``).

    Examples
    --------
    >>> from simlab.hashes import hash_bits
    >>> from simlab.kit import samples
    >>> bits = hash_bits(samples()["chelsea"])
    >>> len(bits), sorted(set(bits))
    (64, ['0', '1'])
    >>> import numpy as np
    >>> hash_bits(np.zeros((32, 32), dtype=np.uint8), method="ahash", hash_size=4)
    '0000000000000000'
    """
    if method not in HASH_METHODS:
        raise ValueError(f"unknown hash method {method!r}; choose one of {', '.join(HASH_METHODS)}")
    hash_size = whole_number(hash_size, "hash_size", minimum=2)
    if method == "whash" and hash_size & (hash_size - 1):
        raise ValueError(
            f"whash needs a hash_size that is a power of 2 (4, 8, 16...), got {hash_size}"
        )
    bits = HASH_METHODS[method](load_image(image), hash_size=hash_size).hash.ravel()
    return "".join("1" if bit else "0" for bit in bits)

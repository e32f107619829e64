"""simlab.validation: the input checks several modules share, with one wording everywhere."""

import re
import sys

import numpy as np
import pytest

from simlab import cache, collection, weights
from simlab.hashes import hash_bits
from simlab.metrics import top_k
from simlab.search import synthetic_embeddings
from simlab.validation import as_matrix, unit_rows, whole_number


def test_whole_number_accepts_integers_and_returns_an_int():
    for value in (1, 7, np.int64(3), np.uint8(200)):
        out = whole_number(value, "n")
        assert out == value and type(out) is int
    assert whole_number(0, "workers", minimum=0) == 0


@pytest.mark.parametrize("bad", [0, -2, 2.0, 2.5, True, "3", None, np.float32(4)])
def test_whole_number_refuses_the_rest_naming_the_argument(bad):
    with pytest.raises(ValueError, match=rf"^k must be a whole number >= 1, got {re.escape(repr(bad))}$"):
        whole_number(bad, "k")


def test_every_module_words_the_count_check_alike(tmp_path):
    """top_k's k, the hash size, the synthetic data's n, embed_folder's batch size: one message."""
    with pytest.raises(ValueError, match="k must be a whole number >= 1, got 0"):
        top_k(np.ones((1, 2)), np.ones((3, 2)), k=0)
    with pytest.raises(ValueError, match="hash_size must be a whole number >= 2, got 1"):
        hash_bits(np.zeros((8, 8), np.uint8), hash_size=1)
    with pytest.raises(ValueError, match="n must be a whole number >= 1, got 2.5"):
        synthetic_embeddings(2.5)
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1, got 0"):
        collection.embed_folder([tmp_path / "a.jpg"], batch_size=0)


def test_matrix_and_unit_rows():
    X = as_matrix([[3, 4], [0, 2]], "X")
    assert X.dtype == np.float64 and X.shape == (2, 2)
    np.testing.assert_allclose(unit_rows(X, "X"), [[0.6, 0.8], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"row 1 of X is a zero vector"):
        unit_rows(np.array([[1.0, 0.0], [0.0, 0.0]]), "X")
    with pytest.raises(ValueError, match=r"X has shape \(3,\), a single vector"):
        as_matrix([1, 2, 3], "X")


def test_one_file_hash_function():
    """The cache key of a photo and the check of a weight file are the same sha256 function."""
    assert cache.content_hash is weights.sha256_of  # one hash function (simlab.cache)


def test_a_missing_optional_package_names_its_extra(monkeypatch):
    import builtins

    from simlab.extras import EXTRAS, require

    real_import = builtins.__import__

    def without_faiss(name, *args, **kwargs):
        if name.partition(".")[0] == "faiss":
            raise ModuleNotFoundError("No module named 'faiss'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_faiss)
    monkeypatch.delitem(sys.modules, "faiss", raising=False)
    with pytest.raises(ImportError, match=r'pip install "simlab\[search\]"'):
        require("faiss")
    assert {extra for _, extra, _ in EXTRAS.values()} == {"faces", "search", "cluster", "fast", "segmenter"}

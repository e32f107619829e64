"""Checks for the students' answers to the lesson exercises.

Each ``check_*`` function prints ``Correct: ...`` for a right answer (and returns nothing), and raises
:class:`ExerciseError` (an ``AssertionError``) whose message says in plain words what is wrong
(wrong shape, swapped axes, forgot the stride, forgot to scale, ...) for a wrong one.
"""

from __future__ import annotations

import numpy as np
import torch

from .backbones import Backbone
from .features import extract_features

__all__ = [
    "ExerciseError",
    "check_box_mask",
    "check_cosine_from_distance",
    "check_cosine_function",
    "check_index_memory",
    "check_margins",
    "check_masked_average",
    "check_pair_count",
    "check_output_shape",
    "check_ranking",
    "check_recall",
    "check_strongest_channel",
    "check_threshold",
    "check_to_chw",
    "check_vector_length",
]


class ExerciseError(AssertionError):
    """A student's answer is wrong; the message explains why."""


def _correct(message: str) -> None:
    # Return nothing: nbgrader reads a check cell's output as partial credit, so a check that
    # passes must show only its printed message.
    print(f"Correct: {message}")


def check_output_shape(answer, backbone: Backbone, stage: str, height: int, width: int) -> None:
    """Check a predicted (C, H, W) of ``stage``'s output for a ``height`` x ``width`` input.

    The truth comes from a real forward pass on a zero image of that size.
    """
    s = backbone.stage(stage)
    true = tuple(extract_features(backbone, torch.zeros(1, 3, height, width), [stage])[s.name].shape[1:])
    try:
        got = tuple(int(v) for v in answer)
    except TypeError:
        raise ExerciseError(f"give a tuple (C, H, W) of three numbers, not {answer!r}") from None
    if len(got) != 3:
        raise ExerciseError(f"give three numbers (C, H, W); you gave {len(got)}: {got}")
    if got == true:
        _correct(f"{stage} turns a {height}x{width} image into {true[0]} maps of {true[1]}x{true[2]}.")
        return
    c, h, w = got
    if c != true[0]:
        raise ExerciseError(
            f"the channel count is wrong: {stage} has {true[0]} channels "
            f"(see backbone.stage({stage!r}).channels), you wrote {c}"
        )
    if (h, w) == (true[2], true[1]) and h != w:
        raise ExerciseError("height and width are swapped: the shape is (C, H, W), height first")
    if (h, w) == (height, width):
        raise ExerciseError(
            f"you forgot the stride: {stage} has stride {s.stride}, so each position covers "
            f"{s.stride}x{s.stride} input pixels and the map is about {height}/{s.stride} high"
        )
    raise ExerciseError(
        f"the spatial size is off: expected ceil({height}/{s.stride}) x ceil({width}/{s.stride}), "
        f"you wrote {h} x {w}"
    )


def check_to_chw(to_chw) -> None:
    """Check a student's ``to_chw(array)``: (H, W, 3) uint8 photo -> float Tensor[3, H, W] in [0, 1]."""
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)  # not square: swaps show
    expected = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    out = to_chw(photo)
    if not isinstance(out, torch.Tensor):
        raise ExerciseError(f"return a torch.Tensor, not a {type(out).__name__}")
    shape = tuple(out.shape)
    if shape == (6, 4, 3) or shape == (3, 6, 4):
        raise ExerciseError(
            f"height and width are swapped (got {shape} for a 4-high, 6-wide photo): "
            "permute(2, 1, 0) reverses all axes; use permute(2, 0, 1) to move only the channels"
        )
    if shape == (4, 6, 3):
        raise ExerciseError("the channels are still last (H, W, C): move them first with permute(2, 0, 1)")
    if shape != (3, 4, 6):
        raise ExerciseError(f"expected shape (3, 4, 6) for a 4x6 photo, got {shape}")
    if not out.is_floating_point():
        raise ExerciseError(f"the tensor is {out.dtype}: networks need floats, use .float()")
    if float(out.max()) > 1.0:
        raise ExerciseError(f"values go up to {float(out.max()):.0f}: divide by 255 to get [0, 1]")
    if not torch.allclose(out, expected, atol=1e-6):
        raise ExerciseError("shape and range are right but the values differ: check the channel order")
    _correct("(H, W, C) -> (C, H, W) with permute(2, 0, 1), scaled to [0, 1].")


def check_strongest_channel(answer, fmap: torch.Tensor) -> None:
    """Check the index of the channel with the highest MEAN activation in ``fmap`` Tensor[C, H, W]."""
    if fmap.ndim == 4:
        fmap = fmap[0]
    means = fmap.mean(dim=(1, 2))
    best = int(means.argmax())
    if isinstance(answer, torch.Tensor):
        answer = answer.item() if answer.numel() == 1 else answer
    if isinstance(answer, float) and not answer.is_integer():
        raise ExerciseError(
            f"{answer:.3f} looks like an activation value; give the channel INDEX (use argmax, not max)"
        )
    try:
        idx = int(answer)
    except (TypeError, ValueError):
        raise ExerciseError(f"give one channel index (an int), not {answer!r}") from None
    if idx == best:
        _correct(f"channel {best} has the highest mean activation ({float(means[best]):.3f}).")
        return
    if not 0 <= idx < len(means):
        raise ExerciseError(f"there is no channel {idx}: this map has channels 0..{len(means) - 1}")
    if idx == int(fmap.amax(dim=(1, 2)).argmax()):
        raise ExerciseError(
            f"channel {idx} has the highest single peak, but the question asks for the highest "
            "MEAN over all positions: average over dims (1, 2) first"
        )
    raise ExerciseError(
        f"channel {idx} has mean {float(means[idx]):.3f}, but another channel is higher: "
        "average each channel over (H, W), then take the argmax"
    )


def check_vector_length(answer, backbone: Backbone, stage: str, size: int = 224) -> None:
    """Check the length of the vector that global average pooling makes from ``stage``."""
    s = backbone.stage(stage)
    fmap = extract_features(backbone, torch.zeros(1, 3, size, size), [stage])[s.name]
    c, h, w = fmap.shape[1:]
    if answer == c:
        _correct(f"pooling keeps one number per channel: {c} values.")
        return
    if answer == c * h * w:
        raise ExerciseError(
            f"{c}x{h}x{w} = {answer} is the size of the map BEFORE pooling; pooling averages "
            "each channel over all positions"
        )
    if answer == h * w:
        raise ExerciseError("pooling removes the positions and keeps the channels, not the reverse")
    raise ExerciseError(f"{answer} is not it: how many channels does {stage} have?")


def check_cosine_function(cosine) -> None:
    """Check a student's NumPy ``cosine(a, b)`` against :func:`simlab.metrics.cosine_similarity`."""
    from .metrics import cosine_similarity

    a = np.array([3.0, -1.0, 2.0, 0.5])
    b = np.array([1.0, 4.0, -2.0, 3.0])
    expected = cosine_similarity(a, b)
    got = float(cosine(a, b))
    if np.isclose(got, expected):
        if not np.isclose(float(cosine(a, 10 * b)), expected):
            raise ExerciseError("scaling b by 10 changed your result: divide by BOTH norms")
        _correct(f"cos = a.b / (|a| |b|) = {expected:.4f}, same as the library.")
        return
    dot = float(a @ b)
    if np.isclose(got, dot):
        raise ExerciseError(f"{got:.4f} is the plain dot product: divide by |a| * |b|")
    if np.isclose(got, dot / np.linalg.norm(a)) or np.isclose(got, dot / np.linalg.norm(b)):
        raise ExerciseError("you divided by only one norm: cosine divides by |a| * |b|")
    if np.isclose(got, 1 - expected):
        raise ExerciseError("that is the cosine DISTANCE (1 - cos); return the similarity")
    if np.isclose(got, dot / (np.sum(a**2) * np.sum(b**2))):
        raise ExerciseError("you divided by the squared norms: use np.linalg.norm (the square root)")
    raise ExerciseError(f"expected {expected:.4f}, got {got:.4f}: cos = (a @ b) / (norm(a) * norm(b))")


def check_ranking(answer, names: list, distances, query: str) -> None:
    """Check a ranking of ``names`` by increasing distance from ``query`` (the query left out).

    ``distances[i]`` is the distance of ``names[i]`` from the query.
    """
    order = [names[i] for i in np.argsort(np.asarray(distances), kind="stable") if names[i] != query]
    answer = list(answer)
    if answer == order:
        _correct(f"nearest to {query}: {', '.join(order[:3])}, ...")
        return
    if query in answer:
        raise ExerciseError(f"leave {query} itself out: it is always at distance 0 from itself")
    if answer == order[::-1]:
        raise ExerciseError("the order is reversed: for a DISTANCE the nearest is the smallest value")
    if sorted(answer) != sorted(order):
        raise ExerciseError(f"rank each of the other {len(order)} photos exactly once")
    first = next(i for i, (a, b) in enumerate(zip(answer, order, strict=True)) if a != b)
    raise ExerciseError(
        f"the ranking differs from place {first + 1} on: expected {order[first]}, got {answer[first]}"
    )


def check_cosine_from_distance(answer, a, b) -> None:
    """Check a cosine similarity computed from the Euclidean distance of the UNIT vectors of a and b."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ua, ub = a / np.linalg.norm(a), b / np.linalg.norm(b)
    expected = float(ua @ ub)
    d = float(np.linalg.norm(ua - ub))
    d_raw = float(np.linalg.norm(a - b))
    if np.isclose(answer, expected, atol=1e-4):
        _correct(f"|a-b|^2 = 2 - 2 cos, so cos = 1 - {d:.4f}^2 / 2 = {expected:.4f}.")
        return
    if np.isclose(answer, 1 - d_raw**2 / 2, atol=1e-4):
        raise ExerciseError("the identity holds for UNIT vectors: normalise a and b first")
    if np.isclose(answer, 1 - d / 2, atol=1e-4):
        raise ExerciseError("square the distance: cos = 1 - d**2 / 2")
    if np.isclose(answer, 2 - 2 * d**2, atol=1e-4) or np.isclose(answer, d**2, atol=1e-4):
        raise ExerciseError("rearrange |a-b|^2 = 2 - 2 cos for cos: cos = 1 - |a-b|^2 / 2")
    raise ExerciseError(f"expected {expected:.4f}, got {float(answer):.4f}")


def check_box_mask(mask, height: int, width: int, box) -> None:
    """Check a bool (height, width) mask that is True exactly inside ``box = (x0, y0, x1, y1)``
    (pixel columns x0..x1-1 and rows y0..y1-1, as in ``mask[y0:y1, x0:x1]``)."""
    x0, y0, x1, y1 = box
    expected = np.zeros((height, width), dtype=bool)
    expected[y0:y1, x0:x1] = True
    mask = np.asarray(mask)
    if mask.shape == (width, height) and height != width:
        raise ExerciseError(f"the mask is (width, height) = {mask.shape}: images are (H, W), rows first")
    if mask.shape != (height, width):
        raise ExerciseError(f"the mask must have the image's shape (H, W) = {(height, width)}, "
                            f"not {mask.shape}")
    if mask.dtype != bool:
        raise ExerciseError(f"the mask is {mask.dtype}: make it boolean, e.g. np.zeros((H, W), dtype=bool)")
    if np.array_equal(mask, expected):
        _correct(f"{mask.sum()} pixels inside the box, {mask.mean():.0%} of the image.")
        return
    swapped = np.zeros_like(expected)
    swapped[x0:x1, y0:y1] = True
    if np.array_equal(mask, swapped):
        raise ExerciseError("x and y are swapped: rows are y, columns are x, so use mask[y0:y1, x0:x1]")
    if np.array_equal(mask, ~expected):
        raise ExerciseError("the mask is inverted: the box is the subject, so inside must be True")
    grown = np.zeros_like(expected)
    grown[y0:y1 + 1, x0:x1 + 1] = True
    if np.array_equal(mask, grown):
        raise ExerciseError("off by one: slices exclude their end, so mask[y0:y1, x0:x1] is already right")
    raise ExerciseError(f"{int((mask != expected).sum())} pixels differ from the box {box}")


def check_masked_average(answer, fmap, weights) -> None:
    """Check masked average pooling of ``fmap`` Tensor[C, h, w] with ``weights`` [h, w] in [0, 1]:
    ``sum(F * m) / sum(m)`` per channel, a vector of length C."""
    fmap = torch.as_tensor(fmap, dtype=torch.float32)
    w = torch.as_tensor(weights, dtype=torch.float32)
    expected = (fmap * w).sum(dim=(1, 2)) / w.sum()
    got = torch.as_tensor(np.asarray(answer, dtype=np.float32))
    if got.shape != expected.shape:
        raise ExerciseError(
            f"expected one number per channel, shape {tuple(expected.shape)}, got {tuple(got.shape)}: "
            "sum over the positions (dims 1 and 2), keep the channels"
        )
    if torch.allclose(got, expected, atol=1e-5):
        _correct("each channel is averaged over the subject positions only.")
        return
    if torch.allclose(got, (fmap * w).mean(dim=(1, 2)), atol=1e-5):
        raise ExerciseError(
            "you divided by the number of positions: divide by the mask's total weight instead, "
            "or background cells count as zeros and shrink every value"
        )
    if torch.allclose(got, fmap.mean(dim=(1, 2)), atol=1e-5):
        raise ExerciseError("that is plain average pooling: multiply by the mask before summing")
    if torch.allclose(got, (fmap * (1 - w)).sum(dim=(1, 2)) / (1 - w).sum(), atol=1e-5):
        raise ExerciseError("that is the BACKGROUND prototype: weight by m, not by 1 - m")
    raise ExerciseError("the values differ: compute (fmap * m).sum(dim=(1, 2)) / m.sum()")


def check_recall(answer, found, truth) -> None:
    """Check recall@k of approximate results ``found`` against exact results ``truth``, both (Nq, k)
    arrays of gallery rows: the mean over queries of |found_i ∩ truth_i| / k."""
    found, truth = np.asarray(found), np.asarray(truth)
    k = truth.shape[1]
    hits = np.array([len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)])
    expected = float(hits.mean() / k)
    got = float(np.asarray(answer))
    if np.isclose(got, expected, atol=1e-6):
        _correct(f"the approximate index found {expected:.1%} of the true {k} nearest neighbours.")
        return
    if np.isclose(got, float((found == truth).mean()), atol=1e-6):
        raise ExerciseError("you compared position by position: a true neighbour found at another place "
                            "in the top k still counts, so count the overlap of the two sets per query")
    if np.isclose(got, float(hits.mean()), atol=1e-6):
        raise ExerciseError(f"that is the number of hits per query; divide by k = {k} to get a fraction")
    if np.isclose(got, float(hits.sum()), atol=1e-6):
        raise ExerciseError("that is the total number of hits: average over queries and divide by k")
    raise ExerciseError(f"expected {expected:.4f}, got {got:.4f}: mean over queries of |found ∩ truth| / k")


def check_index_memory(answer, n: int, d: int) -> None:
    """Check the bytes an exact (flat) index of ``n`` float32 vectors of dimension ``d`` needs."""
    expected = n * d * 4
    got = float(answer)
    if np.isclose(got, expected, rtol=1e-3):
        _correct(f"{n:,} x {d} x 4 bytes = {expected / 1e9:.2f} GB: each number is stored once, as float32.")
        return
    if np.isclose(got, n * d, rtol=1e-3):
        raise ExerciseError("that is the number of floats; each float32 takes 4 bytes")
    if np.isclose(got, n * d * 8, rtol=1e-3):
        raise ExerciseError("8 bytes is float64; FAISS stores float32, 4 bytes per number")
    if np.isclose(got, n * n * 4, rtol=1e-3):
        raise ExerciseError("that is the N x N similarity matrix: an index stores the vectors, N x d")
    if np.isclose(got, expected * 8, rtol=1e-3) or np.isclose(got, expected / 8, rtol=1e-3):
        raise ExerciseError("bits and bytes are mixed up: a float32 is 4 bytes = 32 bits")
    raise ExerciseError(f"expected {expected:,} bytes (N x d x 4), got {got:,.0f}")


def check_pair_count(answer, vectors, threshold: float) -> None:
    """Check the number of distinct pairs (i < j) of rows of ``vectors`` whose cosine similarity
    is at least ``threshold``."""
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    above = (v @ v.T) >= threshold
    n = len(v)
    expected = int(np.triu(above, k=1).sum())
    got = int(answer)
    if got == expected:
        _correct(f"{expected} pairs of {n * (n - 1) // 2} score {threshold:.2f} or more.")
        return
    with_self = int(np.triu(above).sum())
    if got == int(above.sum()):
        raise ExerciseError("you counted every pair twice and each photo with itself: keep i < j only "
                            "(np.triu(..., k=1))")
    if got == with_self:
        raise ExerciseError(f"you counted each of the {n} photos paired with itself (cosine 1): "
                            "leave out the diagonal (np.triu(..., k=1))")
    if got == 2 * expected:
        raise ExerciseError("you counted each pair twice, (a, b) and (b, a): keep i < j only")
    if got == int(np.triu((v @ v.T) > threshold, k=1).sum()):
        raise ExerciseError(f"a pair that scores exactly {threshold} counts: use >=, not >")
    raise ExerciseError(f"expected {expected} pairs, got {got}")


def check_margins(answer, scores: dict, same: list, other: list, prediction=None) -> None:
    """Check a ``{method: margin}`` dict: for each method of ``scores`` (``{method: {pair: score}}``,
    higher = more alike), the worst same-person score minus the best other-person score.

    ``same`` and ``other`` are the lists of pairs of each kind. ``prediction``, if given, is the
    list of methods the student expected to separate the people (margin > 0); the check says
    how it compares with the data.
    """
    expected = {m: min(s[p] for p in same) - max(s[p] for p in other) for m, s in scores.items()}
    answer = dict(answer)
    if sorted(answer) != sorted(expected):
        raise ExerciseError(f"give one margin for each method: {', '.join(expected)}")
    for method, want in expected.items():
        got = float(answer[method])
        if np.isclose(got, want, atol=1e-6):
            continue
        s = scores[method]
        if np.isclose(got, -want, atol=1e-6):
            raise ExerciseError(f"{method}: the sign is reversed: worst SAME-person minus best OTHER-person")
        means = np.mean([s[p] for p in same]) - np.mean([s[p] for p in other])
        if np.isclose(got, means, atol=1e-6):
            raise ExerciseError(f"{method}: that is the difference of the means; the margin compares the "
                                "worst same-person pair with the best other-person pair (min and max)")
        raise ExerciseError(f"{method}: expected {want:+.3f}, got {got:+.3f}")
    separating = [m for m, v in expected.items() if v > 0]
    message = f"only {', '.join(separating) or 'none'} put every same-person pair above every other one."
    if prediction is not None:
        hit = sorted(prediction) == sorted(separating)
        verdict = "right" if hit else "not quite right"
        message += f" Your prediction ({', '.join(prediction) or 'none'}) was {verdict}."
    _correct(message)


def check_threshold(answer, same_distances, other_distances) -> None:
    """Check a distance threshold that calls every same-person pair "same" (distance < threshold)
    and every other-person pair "other" (distance >= threshold)."""
    same_d, other_d = np.asarray(same_distances, dtype=float), np.asarray(other_distances, dtype=float)
    t = float(answer)
    wrong_same, wrong_other = int((same_d >= t).sum()), int((other_d < t).sum())
    if not wrong_same and not wrong_other:
        low, high = same_d.max(), other_d.min()
        _correct(f"{t:.2f} lies between the largest same-person distance ({low:.2f}) and the smallest "
                 f"other-person distance ({high:.2f}). It was chosen on these very pairs, so it says "
                 "nothing yet about new photos: the model's own 0.6 was chosen on other data, which is "
                 "why it is a fair test.")
        return
    if t > other_d.max() or t < same_d.min():
        raise ExerciseError("for a DISTANCE, small means alike: same-person pairs must fall below "
                            "the threshold")
    raise ExerciseError(f"with {t:.2f}, {wrong_same} same-person pair(s) would be called other and "
                        f"{wrong_other} other-person pair(s) would be called the same person")


# --- lesson 04 ---

__all__ += ["check_neighbours", "check_noise_recall", "check_why_held_out", "check_why_noise"]


def _stated(prediction, choices: tuple, name: str) -> str:
    """A prediction as one of ``choices`` (case and spaces ignored); a missing or unknown one fails,
    a wrong one never does (the check reports it)."""
    if prediction is None or not str(prediction).strip():
        raise ExerciseError(f"write your prediction in {name} first, before you run anything: one of "
                            f"{', '.join(map(repr, choices))}")
    plain = " ".join(str(prediction).lower().split())
    if plain not in choices:
        raise ExerciseError(f"{name} = {prediction!r} is not one of {', '.join(map(repr, choices))}")
    return plain


def _letter(answer, options: dict, right: str) -> None:
    """A multiple-choice answer: ``options`` maps each letter to why it is right or wrong."""
    letter = str(answer).strip().upper().rstrip(".)") if answer is not None else ""
    if letter not in options:
        raise ExerciseError(f"answer with one letter, one of {', '.join(options)}; got {answer!r}")
    if letter != right:
        raise ExerciseError(f"{letter} is not it: {options[letter]}")
    _correct(options[right])


def check_noise_recall(answer, prediction, found, truth, clustered_recall: float) -> None:
    """Check recall@k of HNSW on random noise, and say whether the student's prediction was right.

    ``found`` and ``truth`` are (Nq, k) arrays of gallery rows (the index's answer and the exact
    one on the noise vectors), ``answer`` the student's recall@k of ``found``, ``prediction``
    ``"higher"`` or ``"lower"`` than ``clustered_recall`` (the same index settings on clustered
    vectors). A missing prediction fails; a wrong one is reported, not failed.
    """
    prediction = _stated(prediction, ("higher", "lower"), "prediction_4")
    found, truth = np.asarray(found), np.asarray(truth)
    k = truth.shape[1]
    expected = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)]))
    got = float(np.asarray(answer))
    if not np.isclose(got, expected, atol=1e-6):
        if np.isclose(got, float((found == truth).mean()), atol=1e-6):
            raise ExerciseError("you compared position by position: count the overlap of the two sets "
                                "per query")
        raise ExerciseError(f"expected a recall@{k} of {expected:.3f}, got {got:.3f} "
                            "(recall_at_k(found, truth))")
    truth_word = "higher" if expected > clustered_recall else "lower"
    verdict = "right" if prediction == truth_word else "not right"
    _correct(f"recall@{k} {expected:.2f} on noise against {clustered_recall:.2f} on clustered vectors: "
             f"{truth_word}. Your prediction ({prediction}) was {verdict}.")


def check_why_noise(answer) -> None:
    """Multiple choice: why approximate search finds so few true neighbours in random noise (C)."""
    _letter(answer, {
        "A": "the vectors are normalised either way (build_index stores unit vectors), and cosine on "
             "unit vectors is what the exact search ranks by too",
        "B": "HNSW needs no training (only IVF runs k-means), and it found the neighbours of the "
             "clustered vectors with the same settings",
        "C": "in high-dimensional noise every vector is about as far from a query as every other: the "
             "true 10 nearest are barely nearer than thousands of others, so a graph walk (or a few "
             "IVF cells) has no neighbourhood to follow. Image embeddings cluster; noise does not.",
        "D": "the noise gallery here is no larger than the clustered one (fewer vectors, if anything), "
             "and a larger gallery would lower recall, not explain a collapse",
    }, "C")


def check_why_held_out(answer) -> None:
    """Multiple choice: why the tuning and held-out pairs must share no source photo (B)."""
    _letter(answer, {
        "A": "the halves need not be the same size: split_pairs_by_source balances the near-duplicate "
             "pairs, and even so the halves differ in size",
        "B": "copies of one photo score alike: with the cat's crop in the tuning pairs and its mirror "
             "image in the held-out pairs, the threshold would be tested on a photo it was chosen on, "
             "and the held-out score would promise more than new photos give.",
        "C": "best_threshold works on any scores and labels; it knows nothing of the photos behind them",
        "D": "a FAISS index stores vectors, not photos, and holds the same vector twice without trouble; "
             "the split is about what the threshold has seen",
    }, "B")


def check_neighbours(answer, vectors, query: int, k: int = 5) -> None:
    """Check the ``k`` rows of ``vectors`` most similar (cosine) to row ``query``, itself left out.

    ``answer`` is a sequence of ``k`` row numbers, most similar first; rows with equal scores
    may come in either order.
    """
    X = np.asarray(vectors, dtype=np.float64)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    cosine = unit @ unit[query]
    try:
        got = [int(i) for i in answer]
    except (TypeError, ValueError):
        raise ExerciseError(f"give a list of {k} row numbers, not {answer!r}") from None
    if query in got:
        raise ExerciseError("the photo itself is among them (its own nearest neighbour, similarity 1): "
                            "leave it out and take the next one")
    if len(got) != k:
        raise ExerciseError(f"give {k} row numbers; you gave {len(got)}")
    if any(not 0 <= i < len(X) for i in got):
        raise ExerciseError(f"row numbers run from 0 to {len(X) - 1}")
    others = np.delete(np.arange(len(X)), query)
    expected = others[np.argsort(-cosine[others], kind="stable")][:k]
    if np.allclose(cosine[got], cosine[expected], atol=1e-5):
        _correct(f"the {k} nearest photos score {', '.join(f'{cosine[i]:.2f}' for i in expected)}.")
        return
    raw = X @ X[query]
    if np.allclose(cosine[got], cosine[others[np.argsort(-raw[others], kind="stable")][:k]], atol=1e-5):
        raise ExerciseError("that ranks by the raw inner product: divide each vector by its length first, "
                            "then the inner product is the cosine similarity")
    if np.allclose(cosine[got], cosine[others[np.argsort(cosine[others], kind="stable")][:k]], atol=1e-5):
        raise ExerciseError("those are the LEAST similar: a larger inner product means more alike")
    raise ExerciseError(f"expected rows {expected.tolist()} (similarities "
                        f"{', '.join(f'{cosine[i]:.2f}' for i in expected)}), got {got}")

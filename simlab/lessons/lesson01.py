"""Exercise checks and helpers of lesson 01, how a CNN extracts image features."""

from __future__ import annotations

import numpy as np
import torch

from ..backbones import Backbone
from ..embedding import embed_stages
from ..features import extract_features
from ..kit import source_photo
from ..metrics import pairwise
from .checks import ExerciseError, check_choice, correct, require_answer

__all__ = [
    "EDIT_EFFECTS",
    "check_choice",
    "check_hardest_edit",
    "check_nearest_by_stage",
    "check_nearest_photo",
    "check_output_shape",
    "check_strongest_channel",
    "check_to_chw",
    "edit_found_counts",
]


def check_output_shape(answer, backbone: Backbone, stage: str, height: int, width: int) -> None:
    """Check a predicted (C, H, W) of ``stage``'s output for a ``height`` x ``width`` input.

    The truth comes from a real forward pass on a zero image of that size.
    """
    require_answer(answer, "a tuple (C, H, W)")
    s = backbone.stage(stage)
    true = tuple(extract_features(backbone, torch.zeros(1, 3, height, width), [stage])[s.name].shape[1:])
    try:
        got = tuple(int(v) for v in answer)
    except TypeError:
        raise ExerciseError(f"give a tuple (C, H, W) of three numbers, not {answer!r}") from None
    if len(got) != 3:
        raise ExerciseError(f"give three numbers (C, H, W); you gave {len(got)}: {got}")
    if got == true:
        correct(f"{stage} turns a {height}x{width} image into {true[0]} maps of {true[1]}x{true[2]}.")
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
    require_answer(to_chw, "your function to_chw")
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
    correct("(H, W, C) -> (C, H, W) with permute(2, 0, 1), scaled to [0, 1].")


def check_strongest_channel(answer, fmap: torch.Tensor) -> None:
    """Check the index of the channel with the highest MEAN activation in ``fmap`` Tensor[C, H, W]."""
    require_answer(answer, "a channel index")
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
        correct(f"channel {best} has the highest mean activation ({float(means[best]):.3f}).")
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


def _cosine_to(vectors, row: int) -> np.ndarray:
    """Cosine similarity of every row of ``vectors`` (N, d) to row ``row``; the row itself gets -inf."""

    scores = pairwise(np.asarray(vectors)[row:row + 1], np.asarray(vectors))[0].astype(np.float64)
    scores[row] = -np.inf
    return scores


def _row_of(names: list, name: str, what: str) -> int:
    if name not in names:
        raise ExerciseError(f"{name!r} is not among the {what}: {', '.join(map(str, names))}")
    return list(names).index(name)


def check_nearest_by_stage(prediction, vectors: dict, names: list, query: str, target: str) -> None:
    """Check a predict-first answer: the stages at which ``target`` is ``query``'s nearest neighbour.

    ``vectors`` is ``{stage: array (N, d)}`` (e.g. :func:`simlab.embedding.embed_stages`), one
    row per item named in ``names``; at each stage every other row is ranked by cosine
    similarity to ``query``. ``prediction`` is the list of stage names the student expects (a
    single name or an empty list are predictions too). Prints, stage by stage, ``target``'s
    place and cosine, then whether the prediction matched. A wrong prediction is not an error
    (it is what the student compares with); a missing or malformed one raises
    :class:`ExerciseError`.
    """
    stages = list(vectors)
    if prediction is None or isinstance(prediction, (int, float)):
        raise ExerciseError(f"write your prediction first: a list of stage names from {', '.join(stages)}")
    chosen = [prediction] if isinstance(prediction, str) else list(prediction)
    unknown = [s for s in chosen if s not in stages]
    if unknown:
        raise ExerciseError(f"{', '.join(map(repr, unknown))}: not a stage; choose from {', '.join(stages)}")
    q, t = _row_of(names, query, "names"), _row_of(names, target, "names")
    nearest_at = []
    for stage, X in vectors.items():
        scores = _cosine_to(X, q)
        place = 1 + int((scores > scores[t]).sum())
        print(f"{stage}: {target} is number {place} of {len(names) - 1} near {query} "
              f"(cosine {scores[t]:.2f})")
        if place == 1:
            nearest_at.append(stage)
    measured = ", ".join(nearest_at) or "no stage"
    guessed = ", ".join(chosen) or "no stage"
    verdict = "right" if sorted(chosen) == sorted(nearest_at) else "not right"
    print(f"Measured: {target} is the nearest at {measured}. Your prediction ({guessed}) was {verdict}.")


EDIT_EFFECTS = {
    "colour": "the colour copy is more saturated and darker AND turned 8 degrees, with grey corners where "
              "the turned photo leaves the frame: new colours and grey corners change how much of each "
              "colour the photo holds, to which the averaged stage1 channels are most sensitive on the "
              "kit's copies (a colour histogram misses these copies about as often), and the turn "
              "tilts every edge",
    "crop": "a crop drops the borders, and what they held, but keeps the colours and textures of the rest",
    "lowres": "a copy at a third of the size keeps the colours (shrinking averages them), to which "
              "the averaged stage1 channels are most sensitive, so stage1 finds it (and so does a colour "
              "histogram); it loses the fine texture (JPEG quality 15 blurs it into blocks) that stage2 "
              "and stage3 respond to, so those two stages miss it most; the deep stages, which see the "
              "content, find it again",
    "mirror_grey": "greyscale removes the colour, to which the averaged stage1 channels are most "
                   "sensitive on the kit's copies (a colour histogram misses these copies too), and "
                   "mirroring reverses the direction of every slanted edge",
}


def edit_found_counts(vectors, names: list) -> dict:
    """For each kind of edit, ``(found, total)``: how many originals have their copy of that kind
    among their ``k`` nearest rows by cosine, ``k`` being their number of copies.

    ``vectors`` is (N, d) with one row per name in ``names``; copies are named
    ``"<original>__<edit>"`` as in ``simlab/assets/variants`` (``"chelsea__crop"``), and an
    original is a name that has copies. Raises :class:`ExerciseError` when no name is a copy.
    """
    names = list(names)
    counts: dict[str, list[int]] = {}
    originals = sorted({source_photo(n) for n in names if "__" in n} & set(names))
    if not originals:
        raise ExerciseError("no copies among the names: they are called '<original>__<edit>'")
    for original in originals:
        copies = [i for i, n in enumerate(names) if n.startswith(f"{original}__")]
        scores = _cosine_to(vectors, names.index(original))
        nearest = set(np.argsort(-scores, kind="stable")[:len(copies)].tolist())
        for i in copies:
            kind = names[i].split("__", 1)[1]
            found, total = counts.setdefault(kind, [0, 0])
            counts[kind] = [found + (i in nearest), total + 1]
    return {kind: tuple(counts[kind]) for kind in sorted(counts)}


def check_hardest_edit(prediction, vectors: dict, names: list, stage: str = "stage1", answer=None) -> None:
    """Check a predict-first answer: which kind of copy ``stage`` misses most often, and, when
    ``answer`` is given, the student's own count of the copies found at ``stage``.

    ``vectors`` is ``{stage: array (N, d)}`` for the rows named in ``names`` (the kit's labelled
    files, copies named ``"<original>__<edit>"``). ``answer`` is ``{edit: number found}``: for each
    original, is its copy of that edit among its nearest rows by cosine (as many rows as it has
    copies, the original itself left out)? Prints :func:`edit_found_counts` for every stage, then
    the edit found least often at ``stage``, what that edit changes, and whether ``prediction``
    (one edit name) matched. A wrong prediction is not an error; a missing one, a name that is not
    an edit, or a wrong count raises :class:`ExerciseError`.
    """
    table = {s: edit_found_counts(X, names) for s, X in vectors.items()}
    kinds = list(table[stage])
    if not isinstance(prediction, str) or prediction not in kinds:
        raise ExerciseError(f"write your prediction first: one of {', '.join(map(repr, kinds))}, "
                            f"not {prediction!r}")
    if answer is not None:
        _check_edit_counts(answer, table[stage], stage)
    print("copies found among their original's nearest files (k = its number of copies):")
    print(f"{'edit':12}" + "".join(f"{s:>8}" for s in table))
    for kind in kinds:
        print(f"{kind:12}" + "".join(f"{f'{c[kind][0]}/{c[kind][1]}':>8}" for c in table.values()))
    worst = min(found / total for found, total in table[stage].values())
    hardest = [kind for kind, (found, total) in table[stage].items() if found / total == worst]
    found, total = table[stage][hardest[0]]
    verdict = "right" if prediction in hardest else "not right"
    print(f"Measured: {stage} misses {' and '.join(hardest)} most often ({found} of {total} found). "
          f"Your prediction ({prediction}) was {verdict}.")
    for kind in hardest:
        print(f"Why: {EDIT_EFFECTS.get(kind, 'see what the edit changes')}.")


def _check_edit_counts(answer, counts: dict, stage: str) -> None:
    """``answer`` ({edit: found}) against ``counts`` ({edit: (found, total)}) of :func:`edit_found_counts`."""
    if not isinstance(answer, dict) or sorted(map(str, answer)) != sorted(counts):
        raise ExerciseError("answer with one count per edit: a dict with the keys "
                            f"{', '.join(map(repr, counts))}")
    for kind, (found, total) in counts.items():
        got = answer[kind]
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            raise ExerciseError(f"{kind}: give a whole number of copies found (0 to {total}), not {got!r}")
        if got == total - found and got != found:
            raise ExerciseError(f"{kind}: {got} is the number of copies MISSED at {stage}; count the ones "
                                "found among their original's nearest files")
        if got != found:
            raise ExerciseError(f"{kind}: {got} found is not what {stage} gives. For each original, rank "
                                "the other files by cosine (leave the original itself out), take as many "
                                "as it has copies, and count its copies of that edit among them")
    found = ", ".join(f"{kind} {f} of {t}" for kind, (f, t) in counts.items())
    correct(f"your counts at {stage} match: {found}.")


def check_nearest_photo(answer, backbone: Backbone, photo, gallery: dict,
                        stages=("stage1", "stage5")) -> None:
    """Check ``{stage: name}``: the photo of ``gallery`` (``{name: image}``) nearest to ``photo`` by
    cosine of average-pooled features at each of ``stages``.

    ``photo`` and the gallery images are anything :func:`~simlab.images.load_image` accepts
    (the student's own photo, say). Prints the nearest photo and its cosine per stage.
    """
    require_answer(answer, "a dict {stage: photo name}")

    try:
        got = {str(s): str(answer[s]) for s in stages}
    except (TypeError, KeyError, IndexError):
        raise ExerciseError(f"give a dict with one photo name per stage, e.g. "
                            f"{{{', '.join(f'{s!r}: {next(iter(gallery))!r}' for s in stages)}}}") from None
    names = list(gallery)
    vectors = embed_stages(backbone, [photo, *gallery.values()], list(stages))
    nearest, best, worst = {}, {}, {}
    for s in stages:
        scores = _cosine_to(vectors[s], 0)[1:]
        nearest[s], best[s] = names[int(scores.argmax())], float(scores.max())
        worst[s] = names[int(scores.argmin())]
    for s in stages:
        if got[s] not in names:
            raise ExerciseError(f"{got[s]!r} is not in the gallery: {', '.join(names)}")
        if got[s] == nearest[s]:
            continue
        if got[s] == worst[s]:
            raise ExerciseError(f"{s}: {got[s]} is the LEAST similar photo; the nearest has the "
                                "highest cosine")
        others = [o for o in stages if o != s]
        if any(got[s] == nearest[o] for o in others):
            raise ExerciseError(f"{s}: {got[s]} is the nearest at another stage; embed at {s}")
        raise ExerciseError(f"{s}: {got[s]} is not the nearest; rank by cosine at {s}")
    found = "; ".join(f"at {s} {nearest[s]} (cosine {best[s]:.2f})" for s in stages)
    same = len(set(nearest.values())) == 1
    correct(f"your photo's nearest kit photo is {found}. "
             + ("Both stages agree." if same else "The stages disagree: look at the photos and say "
                "which kind of likeness each stage found."))


def stage_table(backbone: Backbone, *, image_size: int = 224) -> list[dict]:
    """The pyramid measured on a zero image of ``image_size`` x ``image_size``: one dict per stage with
    ``stage``, ``node``, ``stride``, ``channels``, ``height``, ``width`` and ``values`` (C*H*W)."""
    maps = extract_features(backbone, torch.zeros(1, 3, image_size, image_size))
    return [
        {"stage": s.name, "node": s.node, "stride": s.stride, "channels": m.shape[1],
         "height": m.shape[2], "width": m.shape[3], "values": m[0].numel()}
        for s, m in zip(backbone.stages, maps.values(), strict=True)
    ]

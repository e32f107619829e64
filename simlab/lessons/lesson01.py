"""Exercise checks and helpers of lesson 01, how a CNN extracts image features."""

from __future__ import annotations

import numpy as np
import torch

from ..backbones import Backbone
from ..embedding import embed_stages
from ..features import extract_features
from ..images import load_image
from ..kit import source_photo
from ..metrics import pairwise
from .checks import ExerciseError, check_choice, correct, recorded_prediction, require_answer, verdict

__all__ = [
    "EDIT_EFFECTS",
    "check_channel_peak",
    "check_choice",
    "check_copy_ranks",
    "check_hardest_edit",
    "check_nearest_by_stage",
    "check_nearest_photo",
    "check_output_shape",
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


def check_channel_peak(answer, backbone: Backbone, images: dict, stages=("stage2", "stage3")) -> None:
    """Check where one channel fires most on a photo, and that the student said what it responds to.

    ``answer`` is a dict: ``"image"`` (a name of ``images``, ``{name: image}`` as for
    :func:`~simlab.images.load_image`), ``"stage"`` (one of ``stages``), ``"channel"`` (an int),
    ``"peak"`` (``(row, col)`` of that channel's highest value in the map of the preprocessed
    224 x 224 image, counted from 0) and ``"responds_to"`` (a few words: what the channel fires on,
    read by the teacher). The check runs the network on the image and finds the peak itself; it
    prints the square of the input that the peak cell sits on (``stride`` pixels a side), so the
    student can look there. Raises :class:`ExerciseError` for a missing key, an unknown image,
    stage or channel, a peak that is not the highest value, or a description of fewer than 3 words.
    """
    require_answer(answer, "a dict with image, stage, channel, peak and responds_to")
    keys = ("image", "stage", "channel", "peak", "responds_to")
    if not isinstance(answer, dict) or any(k not in answer for k in keys):
        raise ExerciseError(f"give a dict with the keys {', '.join(map(repr, keys))}")
    name, stage, channel = answer["image"], answer["stage"], answer["channel"]
    if name not in images:
        raise ExerciseError(f"{name!r} is not one of the photos: {', '.join(images)}")
    if stage not in stages:
        raise ExerciseError(f"choose a channel of {' or '.join(stages)} (a texture or a part), not {stage!r}")
    s = backbone.stage(stage)
    whole = isinstance(channel, (int, np.integer)) and not isinstance(channel, bool)
    if not whole or not 0 <= channel < s.channels:
        raise ExerciseError(f"{stage} has the channels 0 to {s.channels - 1}; give one of them as an int, "
                            f"not {channel!r}")
    try:
        row, col = (int(v) for v in answer["peak"])
    except (TypeError, ValueError):
        raise ExerciseError(f"give the peak as (row, col), two ints, not {answer['peak']!r}") from None
    fmap = extract_features(backbone, images[name], [stage])[s.name][0, int(channel)]
    height, width = fmap.shape
    top = float(fmap.max())
    true_row, true_col = divmod(int(fmap.argmax()), width)
    if not (0 <= row < height and 0 <= col < width):
        raise ExerciseError(f"({row}, {col}) is outside the map: {stage} is {height} x {width} (rows, cols)")
    if float(fmap[row, col]) < top - 1e-6:
        if 0 <= col < height and 0 <= row < width and float(fmap[col, row]) >= top - 1e-6:
            raise ExerciseError("row and col are swapped: divmod(index, width) gives (row, col)")
        raise ExerciseError(f"channel {channel} is {float(fmap[row, col]):.2f} at ({row}, {col}), not its "
                            "highest value: take the argmax of the whole map (fmap[c].argmax()) and turn "
                            "the flat index into (row, col) with divmod(index, width)")
    words = str(answer["responds_to"] or "").split()
    if len(words) < 3:
        raise ExerciseError("say in a few words what the channel fires on (\"the cat's eyes\", \"vertical "
                            "dark-to-light edges\"): look at the photo where it peaks, and at a second photo")
    y, x = true_row * s.stride, true_col * s.stride
    correct(f"{name}, {stage} channel {channel} fires most at row {true_row}, col {true_col} ({top:.2f}). "
            f"That cell sits on pixels {y}-{y + s.stride - 1} (down) and {x}-{x + s.stride - 1} (across) "
            f"of the 224 x 224 input, and sees a larger patch around them (its receptive field). "
            f"Your description: {' '.join(words)!r}.")


def check_copy_ranks(answer, backbone: Backbone, photo, copy, gallery: dict) -> None:
    """Check, at every stage, the rank of an edited ``copy`` of ``photo`` among ``gallery`` and it.

    ``photo`` and ``copy`` are anything :func:`~simlab.images.load_image` accepts (the student's
    own photo and a copy they made); ``gallery`` is ``{name: image}``. At each stage of
    ``backbone`` the copy and the gallery are ranked by the cosine of their average-pooled vectors
    to ``photo`` (the photo itself left out); rank 1 is the nearest. ``answer`` is ``{stage: rank}``
    for every stage. Prints the ranks, the copy's cosine and the nearest gallery photo per stage,
    and the stages at which the copy is the nearest. Raises :class:`ExerciseError` for a missing
    stage, a rank that is not a whole number, or a wrong rank (saying what was likely miscounted).
    """
    require_answer(answer, "a dict {stage: rank}, one rank per stage of the backbone")
    stages = backbone.stage_names
    if not isinstance(answer, dict) or sorted(answer) != sorted(stages):
        raise ExerciseError(f"give one rank per stage: a dict with the keys {', '.join(map(repr, stages))}")
    if not gallery:
        raise ExerciseError("the gallery is empty: give the photos to rank the copy among")
    names = list(gallery)
    vectors = embed_stages(backbone, [photo, copy, *gallery.values()])
    ranks, rows = {}, []
    for stage in stages:
        scores = _cosine_to(vectors[stage], 0)[1:]  # the copy, then the gallery
        ranks[stage] = 1 + int((scores[1:] > scores[0]).sum())
        best = int(scores[1:].argmax())
        rows.append(f"{stage}: rank {ranks[stage]} of {len(names) + 1} (copy {scores[0]:.2f}; "
                    f"nearest other {names[best]} {scores[1 + best]:.2f})")
    for stage in stages:
        got = answer[stage]
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            raise ExerciseError(f"{stage}: give the rank as a whole number (1 = the nearest), not {got!r}")
        if got == ranks[stage]:
            continue
        if got == ranks[stage] - 1:
            raise ExerciseError(f"{stage}: ranks start at 1 (the nearest), not 0")
        if got == ranks[stage] + 1:
            raise ExerciseError(f"{stage}: one too many; leave your photo itself out of the ranking "
                                "(its cosine with itself is 1)")
        raise ExerciseError(f"{stage}: {got} is not the copy's rank. Rank the copy and the gallery by "
                            "cosine to your photo, highest first: the rank is 1 + the photos above the copy")
    nearest = [stage for stage in stages if ranks[stage] == 1]
    where = f"the nearest at {', '.join(nearest)}" if nearest else "the nearest at no stage"
    correct("your ranks match. " + "; ".join(rows) + f". Your copy is {where}.")


def _cosine_to(vectors, row: int) -> np.ndarray:
    """Cosine similarity of every row of ``vectors`` (N, d) to row ``row``; the row itself gets -inf."""

    scores = pairwise(np.asarray(vectors)[row:row + 1], np.asarray(vectors))[0].astype(np.float64)
    scores[row] = -np.inf
    return scores


def _row_of(names: list, name: str, what: str) -> int:
    if name not in names:
        raise ExerciseError(f"{name!r} is not among the {what}: {', '.join(map(str, names))}")
    return list(names).index(name)


def check_nearest_by_stage(prediction, vectors: dict, names: list, query: str, target: str,
                           question: str | None = "01-grass-gravel") -> None:
    """Check a predict-first answer: the stages at which ``target`` is ``query``'s nearest neighbour.

    ``vectors`` is ``{stage: array (N, d)}`` (e.g. :func:`simlab.embedding.embed_stages`), one
    row per item named in ``names``; at each stage every other row is ranked by cosine
    similarity to ``query``. ``prediction`` is the list of stage names the student expects (a
    single name or an empty list are predictions too). Prints, stage by stage, ``target``'s
    place and cosine, then whether the prediction matched. A wrong prediction is not an error
    (it is what the student compares with); a missing or malformed one raises
    :class:`ExerciseError`, and so does one that :func:`~simlab.lessons.checks.predict` did not
    record for ``question`` before the answer was shown (``question=None`` skips that, for a
    prediction made on the spot).
    """
    stages = list(vectors)
    if prediction is None or isinstance(prediction, (int, float)):
        raise ExerciseError(f"write your prediction first: a list of stage names from {', '.join(stages)}")
    chosen = [prediction] if isinstance(prediction, str) else list(prediction)
    unknown = [s for s in chosen if s not in stages]
    if unknown:
        raise ExerciseError(f"{', '.join(map(repr, unknown))}: not a stage; choose from {', '.join(stages)}")
    if question is not None:
        recorded_prediction(question, prediction, "prediction_4")
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
    right = sorted(chosen) == sorted(nearest_at)
    print(f"Measured: {target} is the nearest at {measured}. Your prediction ({guessed}) was "
          f"{'right' if right else 'not right'}.")
    if not right:
        missed = [s for s in nearest_at if s not in chosen]
        extra = [s for s in chosen if s not in nearest_at]
        if missed:
            print(f"Why at {', '.join(missed)} too: 'nearest' is the highest score among the others, not a "
                  f"high score; when every other file also moves away from {query}, {target} can stay "
                  "first with a low cosine.")
        if extra:
            print(f"Why not at {', '.join(extra)}: another file scores higher there (the lines above give "
                  f"{target}'s place and cosine).")


EDIT_EFFECTS = {
    "colour": "the colour copy is more saturated and darker AND turned 8 degrees, with grey corners where "
              "the turned photo leaves the frame: it changes how much of each colour the photo holds, to "
              "which the averaged stage1 channels are sensitive on the kit's copies (a colour histogram "
              "misses these copies about as often), and the turn tilts every edge; but it keeps the hue of "
              "each region, so it is found more often than a copy with no colour at all",
    "crop": "a crop drops the borders, and what they held, but keeps the colours and textures of the rest, "
            "and the averaged stage1 channels see colours and textures: a crop changes them least",
    "lowres": "a copy at a third of the size keeps the colours (shrinking averages them), to which "
              "the averaged stage1 channels are most sensitive, so stage1 finds it (and so does a colour "
              "histogram); it loses fine texture twice, shrunk to a third and saved at JPEG quality 15 "
              "(blocks), and stage2 and stage3, which respond to texture, miss it more often (either loss "
              "alone makes them miss it less often: section 8 measures it); the deep stages, which see "
              "the content, find it again",
    "mirror_grey": "greyscale removes ALL the colour, to which the averaged stage1 channels are most "
                   "sensitive on the kit's copies (a colour histogram misses these copies too), and "
                   "mirroring reverses the direction of every slanted edge",
}


def edit_found_counts(vectors, names: list) -> dict:
    """For each kind of edit, ``(found, total)``: how many originals have their copy of that kind
    among their ``k`` nearest rows by cosine, ``k`` being their number of copies.

    ``vectors`` is (N, d) with one row per name in ``names``; copies are named
    ``"<original>__<edit>"`` as in ``simlab/assets/variants`` (``"chelsea__crop"``), and an
    original is a name that has copies. Raises :class:`ExerciseError` when no name is a copy.

    Examples
    --------
    >>> import numpy as np
    >>> names = ["x", "x__crop", "x__grey", "y", "y__crop", "y__grey"]
    >>> vectors = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 0.9, 0.2],
    ...                     [0, 1, 0], [0.1, 0.99, 0], [0, 0.95, 0.1]])
    >>> edit_found_counts(vectors, names)  # x's grey copy sits next to y: missed
    {'crop': (2, 2), 'grey': (1, 2)}
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


def check_hardest_edit(prediction, vectors: dict, names: list, stage: str = "stage1", answer=None,
                       question: str | None = "01-hardest-edit") -> None:
    """Check a predict-first answer: which kind of copy ``stage`` misses most often, and, when
    ``answer`` is given, the student's own count of the copies found at ``stage``.

    ``vectors`` is ``{stage: array (N, d)}`` for the rows named in ``names`` (the kit's labelled
    files, copies named ``"<original>__<edit>"``). ``answer`` is ``{edit: number found}``: for each
    original, is its copy of that edit among its nearest rows by cosine (as many rows as it has
    copies, the original itself left out)? Prints :func:`edit_found_counts` for every stage, then
    the edit found least often at ``stage``, what that edit changes, and whether ``prediction``
    (one edit name) matched, with why the measured edit is the hardest and, for a wrong prediction,
    why the predicted edit is found more often. A wrong prediction is not an error; a missing one, a
    name that is not an edit, one that :func:`~simlab.lessons.checks.predict` did not record for
    ``question`` before the answer was shown (``question=None`` skips that), or a wrong count raises
    :class:`ExerciseError`.
    """
    table = {s: edit_found_counts(X, names) for s, X in vectors.items()}
    kinds = list(table[stage])
    if not isinstance(prediction, str) or prediction not in kinds:
        raise ExerciseError(f"write your prediction first: one of {', '.join(map(repr, kinds))}, "
                            f"not {prediction!r}")
    if question is not None:
        prediction = recorded_prediction(question, prediction, "prediction_6", kinds)
    if answer is not None:
        _check_edit_counts(answer, table[stage], stage)
    print("copies found among their original's nearest files (k = its number of copies):")
    print(f"{'edit':12}" + "".join(f"{s:>8}" for s in table))
    for kind in kinds:
        print(f"{kind:12}" + "".join(f"{f'{c[kind][0]}/{c[kind][1]}':>8}" for c in table.values()))
    worst = min(found / total for found, total in table[stage].values())
    hardest = [kind for kind, (found, total) in table[stage].items() if found / total == worst]
    found, total = table[stage][hardest[0]]
    print(f"Measured: {stage} misses {' and '.join(hardest)} most often ({found} of {total} found). "
          f"{verdict(prediction, prediction if prediction in hardest else hardest[0])}")
    for kind in hardest:
        print(f"Why {kind}: {EDIT_EFFECTS.get(kind, 'see what the edit changes')}.")
    if prediction not in hardest:
        found_p, total_p = table[stage][prediction]
        reason = EDIT_EFFECTS.get(prediction, "it changes less of what the stage sees")
        print(f"Why not {prediction}: {stage} finds {found_p} of {total_p} of those copies, more than "
              f"{found} of {total}: {reason}.")


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
    (the student's own photo, say). Prints the nearest photo and its cosine per stage and, when
    the stages disagree, what to look at to say which kind of likeness each found: the nearest
    photo by colour histogram alone (what the shallow stage behaves like on the kit's copies),
    and the question whether the deep stage's nearest shows the same kind of thing at all.
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
    if len(set(nearest.values())) == 1:
        correct(f"your photo's nearest kit photo is {found}. Both stages agree.")
        return
    shallow, deep = stages[0], stages[-1]
    histograms = np.array([_colour_histogram(image) for image in [photo, *gallery.values()]])
    by_colour = names[int(_cosine_to(histograms, 0)[1:].argmax())]
    colour_says = ("the same photo: a likeness of colours" if by_colour == nearest[shallow] else
                   f"not {nearest[shallow]}: edges and texture weigh in too")
    correct(f"your photo's nearest kit photo is {found}. The stages disagree; show the three photos "
            f"(show_images) and answer two questions. {shallow}: by colour histogram alone your photo's "
            f"nearest is {by_colour}, {colour_says}. {deep}: does {nearest[deep]} show the same kind of "
            f"thing as your photo? If not, the kit holds no photo of that kind, and {deep}'s nearest is only "
            "the least unlike: a nearest neighbour is the highest score among the others, not a match "
            "(Exercise 5).")


def _colour_histogram(image, bins: int = 4) -> np.ndarray:
    """The share of ``image``'s pixels in each of ``bins**3`` colour cells, float array (bins**3,)."""
    rgb = np.asarray(load_image(image).resize((128, 128))) // (256 // bins)
    cells = (rgb[..., 0].astype(int) * bins + rgb[..., 1]) * bins + rgb[..., 2]
    return np.bincount(cells.ravel(), minlength=bins**3) / cells.size


def stage_table(backbone: Backbone, *, image_size: int = 224) -> list[dict]:
    """The pyramid measured on a zero image of ``image_size`` x ``image_size``: one dict per stage with
    ``stage``, ``node``, ``stride``, ``channels``, ``height``, ``width`` and ``values`` (C*H*W)."""
    maps = extract_features(backbone, torch.zeros(1, 3, image_size, image_size))
    return [
        {"stage": s.name, "node": s.node, "stride": s.stride, "channels": m.shape[1],
         "height": m.shape[2], "width": m.shape[3], "values": m[0].numel()}
        for s, m in zip(backbone.stages, maps.values(), strict=True)
    ]

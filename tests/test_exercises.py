"""Each exercise check: a right answer passes, typical wrong answers get a helpful message."""

from pathlib import Path

import numpy as np
import pytest
import torch

import simlab.lessons.checks as checks
from simlab import extract_features
from simlab.kit import samples
from simlab.lessons.checks import CHOICES, ExerciseError, check_choice, graded
from simlab.lessons.lesson01 import check_output_shape, check_strongest_channel, check_to_chw
from simlab.lessons.lesson02 import (
    check_copy_scores,
    check_cosine_from_distance,
    check_hash_f1,
    check_ranking,
    check_unit_euclidean_f1,
)
from simlab.lessons.lesson03 import check_auc, check_box_mask, check_face_distance, check_threshold
from simlab.teacher.answer_key import read_answer_key


def test_output_shape(random_mobilenet, capsys):
    check_output_shape((32, 40, 60), random_mobilenet, "stage3", 320, 480)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="height and width are swapped"):
        check_output_shape((32, 60, 40), random_mobilenet, "stage3", 320, 480)
    with pytest.raises(ExerciseError, match="forgot the stride: stage3 has stride 8"):
        check_output_shape((32, 320, 480), random_mobilenet, "stage3", 320, 480)
    with pytest.raises(ExerciseError, match="stage3 has 32 channels"):
        check_output_shape((3, 40, 60), random_mobilenet, "stage3", 320, 480)
    with pytest.raises(ExerciseError, match="give three numbers"):
        check_output_shape((40, 60), random_mobilenet, "stage3", 320, 480)


def test_to_chw():
    check_to_chw(lambda a: torch.from_numpy(a).permute(2, 0, 1).float() / 255)
    with pytest.raises(ExerciseError, match=r"swapped.*permute\(2, 0, 1\)"):
        check_to_chw(lambda a: torch.from_numpy(a).permute(2, 1, 0).float() / 255)
    with pytest.raises(ExerciseError, match="divide by 255"):
        check_to_chw(lambda a: torch.from_numpy(a).permute(2, 0, 1).float())
    with pytest.raises(ExerciseError, match="channels are still last"):
        check_to_chw(lambda a: torch.from_numpy(a).float() / 255)
    with pytest.raises(ExerciseError, match="return a torch.Tensor"):
        check_to_chw(lambda a: a.transpose(2, 0, 1) / 255)


def test_strongest_channel(random_mobilenet):
    fmap = extract_features(random_mobilenet, samples()["chelsea"], ["stage2"])["stage2"][0]
    means = fmap.mean(dim=(1, 2))
    best = int(means.argmax())
    check_strongest_channel(best, fmap)
    check_strongest_channel(torch.tensor(best), fmap)
    with pytest.raises(ExerciseError, match="looks like an activation value"):
        check_strongest_channel(float(means.max()), fmap)
    with pytest.raises(ExerciseError, match="no channel 99"):
        check_strongest_channel(99, fmap)
    wrong = int(means.argmin())
    with pytest.raises(ExerciseError, match=f"channel {wrong} has mean"):
        check_strongest_channel(wrong, fmap)


def test_strongest_channel_peak_is_not_mean():
    fmap = torch.zeros(3, 4, 4)
    fmap[0] = 1.0  # highest mean
    fmap[1, 0, 0] = 5.0  # highest single peak
    check_strongest_channel(0, fmap)
    with pytest.raises(ExerciseError, match="highest single peak.*MEAN"):
        check_strongest_channel(1, fmap)


def test_ranking():
    names = ["query", "near", "middle", "far"]
    distances = [0.0, 1.0, 2.0, 3.0]
    check_ranking(["near", "middle", "far"], names, distances, "query")
    with pytest.raises(ExerciseError, match="reversed"):
        check_ranking(["far", "middle", "near"], names, distances, "query")
    with pytest.raises(ExerciseError, match="leave query itself out"):
        check_ranking(["query", "near", "middle", "far"], names, distances, "query")
    with pytest.raises(ExerciseError, match="place 2 on: expected middle, got far"):
        check_ranking(["near", "far", "middle"], names, distances, "query")
    with pytest.raises(ExerciseError, match="exactly once"):
        check_ranking(["near", "near", "far"], names, distances, "query")


def test_cosine_from_distance():
    import numpy as np

    a, b = np.array([3.0, 4.0, 0.0]), np.array([1.0, 0.0, 1.0])
    ua, ub = a / np.linalg.norm(a), b / np.linalg.norm(b)
    d = np.linalg.norm(ua - ub)
    check_cosine_from_distance(1 - d**2 / 2, a, b)
    with pytest.raises(ExerciseError, match="normalise a and b first"):
        check_cosine_from_distance(1 - np.linalg.norm(a - b) ** 2 / 2, a, b)
    with pytest.raises(ExerciseError, match="square the distance"):
        check_cosine_from_distance(1 - d / 2, a, b)


def test_box_mask():
    import numpy as np

    good = np.zeros((40, 60), dtype=bool)
    good[10:30, 5:25] = True
    check_box_mask(good, 40, 60, (5, 10, 25, 30))
    swapped = np.zeros((40, 60), dtype=bool)
    swapped[5:25, 10:30] = True
    with pytest.raises(ExerciseError, match="x and y are swapped"):
        check_box_mask(swapped, 40, 60, (5, 10, 25, 30))
    with pytest.raises(ExerciseError, match="rows first"):
        check_box_mask(np.zeros((60, 40), dtype=bool), 40, 60, (5, 10, 25, 30))
    with pytest.raises(ExerciseError, match="make it boolean"):
        check_box_mask(good.astype(np.uint8), 40, 60, (5, 10, 25, 30))
    with pytest.raises(ExerciseError, match="inverted"):
        check_box_mask(~good, 40, 60, (5, 10, 25, 30))
    grown = np.zeros((40, 60), dtype=bool)
    grown[10:31, 5:26] = True
    with pytest.raises(ExerciseError, match="off by one"):
        check_box_mask(grown, 40, 60, (5, 10, 25, 30))


# --- the remaining messages: each check's other typical mistakes, and its fallback ---------------


def test_output_shape_other_mistakes(random_mobilenet, capsys):
    check_output_shape([32, 40, 60], random_mobilenet, "stage3", 320, 480)  # a list is fine too
    assert "stage3 turns a 320x480 image into 32 maps of 40x60" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match=r"give a tuple \(C, H, W\) of three numbers, not 32"):
        check_output_shape(32, random_mobilenet, "stage3", 320, 480)
    with pytest.raises(ExerciseError, match=r"spatial size is off: expected ceil\(320/8\) x ceil\(480/8\)"):
        check_output_shape((32, 80, 120), random_mobilenet, "stage3", 320, 480)


def test_to_chw_other_mistakes(capsys):
    check_to_chw(lambda a: torch.from_numpy(a).permute(2, 0, 1).float() / 255)
    assert "permute(2, 0, 1), scaled to [0, 1]" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="the tensor is torch.uint8: networks need floats"):
        check_to_chw(lambda a: torch.from_numpy(a).permute(2, 0, 1))
    with pytest.raises(ExerciseError, match="check the channel order"):
        check_to_chw(lambda a: torch.from_numpy(a[..., ::-1].copy()).permute(2, 0, 1).float() / 255)
    with pytest.raises(ExerciseError, match=r"expected shape \(3, 4, 6\) for a 4x6 photo, got \(72,\)"):
        check_to_chw(lambda a: torch.from_numpy(a).flatten().float() / 255)


def test_strongest_channel_not_an_index():
    fmap = torch.zeros(3, 4, 4)
    fmap[2] = 1.0
    with pytest.raises(ExerciseError, match="give one channel index"):
        check_strongest_channel("two", fmap)
    with pytest.raises(ExerciseError, match="give one channel index"):
        check_strongest_channel(fmap.mean(dim=(1, 2)), fmap)  # all the means, not the argmax


def test_cosine_from_distance_other_mistakes(capsys):
    import numpy as np

    a, b = np.array([3.0, 4.0, 0.0]), np.array([1.0, 0.0, 1.0])
    ua, ub = a / np.linalg.norm(a), b / np.linalg.norm(b)
    d = np.linalg.norm(ua - ub)
    check_cosine_from_distance(float(ua @ ub), a, b)
    assert "|a-b|^2 = 2 - 2 cos" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match=r"rearrange \|a-b\|\^2 = 2 - 2 cos for cos"):
        check_cosine_from_distance(d**2, a, b)
    with pytest.raises(ExerciseError, match=r"rearrange"):
        check_cosine_from_distance(2 - 2 * d**2, a, b)
    with pytest.raises(ExerciseError, match=r"expected 0\.4243, got 0\.9000"):
        check_cosine_from_distance(0.9, a, b)


def test_box_mask_other_mistakes(capsys):
    import numpy as np

    good = np.zeros((40, 60), dtype=bool)
    good[10:30, 5:25] = True
    check_box_mask(good, 40, 60, (5, 10, 25, 30))
    assert "400 pixels inside the box, 17% of the image" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match=r"must have the image's shape \(H, W\) = \(40, 60\)"):
        check_box_mask(np.zeros((40, 60, 3), dtype=bool), 40, 60, (5, 10, 25, 30))
    shifted = np.zeros((40, 60), dtype=bool)
    shifted[11:31, 5:25] = True
    with pytest.raises(ExerciseError, match=r"40 pixels differ from the box \(5, 10, 25, 30\)"):
        check_box_mask(shifted, 40, 60, (5, 10, 25, 30))


# ------------------------------------------------------------------------------ lesson 04
def test_recall(capsys):
    from simlab.lessons.lesson04 import check_recall

    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[2, 1, 9, 4], [5, 0, 0, 0]])  # 3 of 4, 1 of 4 -> 0.5
    check_recall(0.5, found, truth)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="position by position"):
        check_recall(float((found == truth).mean()), found, truth)
    with pytest.raises(ExerciseError, match="divide by k = 4"):
        check_recall(2.0, found, truth)
    with pytest.raises(ExerciseError, match="total number of hits"):
        check_recall(4, found, truth)


def test_index_memory(capsys):
    from simlab.lessons.lesson04 import check_index_memory

    check_index_memory(1_000_000 * 256 * 4, 1_000_000, 256)
    assert "1.02 GB" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="4 bytes"):
        check_index_memory(256_000_000, 1_000_000, 256)
    with pytest.raises(ExerciseError, match="float64"):
        check_index_memory(2.048e9, 1_000_000, 256)
    with pytest.raises(ExerciseError, match="N x N"):
        check_index_memory(4e12, 1_000_000, 256)


def test_pair_count(capsys):
    from simlab.lessons.lesson04 import check_pair_count

    v = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.6, 0.8]])
    # cosines: (0,1) 0.99995, (0,3) 0.6, (1,3) 0.608, (2,3) 0.8, (0,2) 0, (1,2) 0.01
    check_pair_count(2, v, 0.7)
    assert "2 pairs of 6" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="twice and each photo with itself"):
        check_pair_count(8, v, 0.7)
    with pytest.raises(ExerciseError, match="itself"):
        check_pair_count(6, v, 0.7)
    with pytest.raises(ExerciseError, match=">=, not >"):
        check_pair_count(1, v, 0.8)


# --- lesson 03: an AUC and a threshold -------------------------------------------------------

_SAME_PAIRS = np.array([True, True, False, False, False])
_WAY_SCORES = {"whole image": np.array([0.9, 0.5, 0.6, 0.4, 0.7]),  # 4 of 6 (same, other) ranked right
               "face identity (dlib)": -np.array([0.3, 0.4, 0.8, 0.9, 0.7])}  # all 6


def test_check_auc_checks_the_number_and_the_prediction(capsys):
    check_auc(4 / 6, _WAY_SCORES, _SAME_PAIRS, prediction="Face identity (dlib)")
    out = capsys.readouterr().out
    assert out.startswith("Correct: AUC 0.667 for the whole image. The largest: face identity (dlib) (1.000)")
    assert "trained to pull photos of one person together" in out and "was right" in out
    check_auc(4 / 6, _WAY_SCORES, _SAME_PAIRS, prediction="whole image")
    assert "Your prediction (whole image) was not right" in capsys.readouterr().out


@pytest.mark.parametrize("answer, prediction, hint", [
    (2 / 6, "whole image", "1 - AUC"),
    (0.5, "whole image", "not the AUC of the whole image"),
    (4, "whole image", "between 0 and 1"),
    ("high", "whole image", "one number"),
    (4 / 6, None, "prediction"),
    (4 / 6, "faces", "not one of"),
])
def test_check_auc_explains_mistakes(answer, prediction, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_auc(answer, _WAY_SCORES, _SAME_PAIRS, prediction=prediction)


def test_check_threshold_wants_the_best_f1(capsys):
    same, other = [0.3, 0.45, 0.5], [0.48, 0.7, 0.9]
    check_threshold(0.5, same, other)  # all 3 same and 1 other called same: F1 6/7, the best
    assert "F1 0.857, the best there is" in capsys.readouterr().out
    check_threshold(0.6, same, other)  # the same calls: any threshold in the best range counts
    with pytest.raises(ExerciseError, match="small means alike"):
        check_threshold(0.2, same, other)
    with pytest.raises(ExerciseError, match="the F1 is 0.800, but 0.857 is possible"):
        check_threshold(0.46, same, other)
    with pytest.raises(ExerciseError, match="minus sign"):
        check_threshold(-0.5, same, other)


def test_choice_accepts_the_right_letter_only(capsys):
    check_choice("03-fair-threshold", " (b) ")
    assert "Correct: B:" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="C is not it: pairs that share a person are not independent"):
        check_choice("03-fair-threshold", "c")
    with pytest.raises(ExerciseError, match="one letter"):
        check_choice("03-fair-threshold", "b and c")
    with pytest.raises(KeyError):
        check_choice("no-such-question", "a")


def test_face_distance_on_the_kits_people(capsys):
    from simlab import face_embeddings
    from simlab.kit import people_photos

    photos = people_photos("whitehouse")
    a, b = face_embeddings([photos["obama"], photos["obama3"]])
    distance = float(np.linalg.norm(a - b))
    check_face_distance(distance, photos["obama"], photos["obama3"], prediction=False)
    out = capsys.readouterr().out
    assert "the same person: True" in out and "Your prediction (False) was wrong" in out
    with pytest.raises(ExerciseError, match="squared distance"):
        check_face_distance(distance**2, photos["obama"], photos["obama3"])
    with pytest.raises(ExerciseError, match="not the Euclidean distance"):
        check_face_distance(distance + 0.1, photos["obama"], photos["obama3"])
    with pytest.raises(ExerciseError, match="frontal face"):
        check_face_distance(0.5, photos["obama"], np.zeros((64, 64, 3), dtype=np.uint8))

# --- lesson 02 ---


def _pair_data():
    """Four files: rows 0/1 and 2/3 point the same way with very different lengths (near-duplicates
    for cosine); rows 0 and 2 have the same length but other directions."""
    vectors = np.array([[1.0, 0.1, 0.0], [8.0, 0.9, 0.1], [0.0, 1.0, 0.1], [0.1, 7.0, 0.8]])
    ia, ib = np.array([0, 2, 0, 1, 0]), np.array([1, 3, 2, 3, 3])
    same = np.array([True, True, False, False, False])
    return vectors, ia, ib, same


def test_unit_euclidean_f1_reports_the_prediction(capsys):
    from simlab.lessons.lesson02 import _best_f1
    from simlab.metrics import pairwise

    vectors, ia, ib, same = _pair_data()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    f1_unit = _best_f1(-pairwise(unit, metric="euclidean")[ia, ib], same)
    assert f1_unit == _best_f1(pairwise(vectors)[ia, ib], same) == 1.0  # the same as cosine
    check_unit_euclidean_f1(f1_unit, "the same", vectors, ia, ib, same)
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and "Your prediction (the same) was right" in out
    check_unit_euclidean_f1(f1_unit, "Higher", vectors, ia, ib, same)  # a wrong prediction never fails
    assert "Your prediction (higher) was not right" in capsys.readouterr().out


@pytest.mark.parametrize("prediction, hint", [
    (None, "write your prediction in prediction_1 first"),
    ("", "write your prediction"),
    ("bigger", "not one of 'higher', 'lower', 'the same'"),
])
def test_unit_euclidean_f1_needs_a_prediction(prediction, hint):
    vectors, ia, ib, same = _pair_data()
    with pytest.raises(ExerciseError, match=hint):
        check_unit_euclidean_f1(1.0, prediction, vectors, ia, ib, same)


def test_unit_euclidean_f1_explains_mistakes():
    from simlab.lessons.lesson02 import _best_f1
    from simlab.metrics import pairwise

    vectors, ia, ib, same = _pair_data()
    raw = _best_f1(-pairwise(vectors, metric="euclidean")[ia, ib], same)
    assert raw < 1.0  # the raw lengths mislead Euclidean distance here
    with pytest.raises(ExerciseError, match="RAW vectors"):
        check_unit_euclidean_f1(raw, "lower", vectors, ia, ib, same)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    not_negated = _best_f1(pairwise(unit, metric="euclidean")[ia, ib], same)
    with pytest.raises(ExerciseError, match="negate it"):
        check_unit_euclidean_f1(not_negated, "lower", vectors, ia, ib, same)


ANSWER_KEY = read_answer_key(Path(__file__).resolve().parents[1] / "notebooks" / "choices.toml")


@pytest.mark.parametrize("question", sorted(ANSWER_KEY))
def test_every_why_question_is_a_checked_choice(question, capsys):
    """The sealed questions of the package say what the teacher's answer key says: the right
    letter is accepted with its reason, each wrong one refused with its own reason."""
    right, reasons = ANSWER_KEY[question]
    assert set(CHOICES[question]["options"]) == set(reasons) and len(reasons) >= 3
    check_choice(question, f" ({right.lower()}) ")
    assert capsys.readouterr().out == f"Correct: {right}: {reasons[right]}\n"
    for wrong in set(reasons) - {right}:
        with pytest.raises(ExerciseError) as refused:
            check_choice(question, wrong)
        assert str(refused.value) == f"{wrong} is not it: {reasons[wrong]}"
    with pytest.raises(ExerciseError, match="one letter, one of"):
        check_choice(question, "Z")
    with pytest.raises(ExerciseError, match="one letter"):
        check_choice(question, None)


def test_the_right_letters_spread_over_the_options():
    letters = [right for right, _ in ANSWER_KEY.values()]
    assert max(letters.count(letter) for letter in set(letters)) <= 2 and len(set(letters)) >= 3


def test_nothing_in_the_package_says_which_letter_is_right():
    """The sealed key holds no reason in plain text, and every option's ciphertext has one length
    (the right option's reason, often the longest, must not stand out)."""
    sealed = (Path(checks.__file__).with_name("choices.json")).read_text()
    for question, (_, reasons) in ANSWER_KEY.items():
        assert all(reason[-40:] not in sealed for reason in reasons.values())
        assert len({len(c) for c in CHOICES[question]["options"].values()}) == 1


def test_hidden_tests_use_the_kits_check_whatever_the_notebook_rebound(capsys):
    """graded() imports the check afresh: a student's code that patched the module is undone."""
    import simlab.lessons.lesson02 as lesson02

    names, distances = ["a", "b", "c"], np.array([0.0, 2.0, 1.0])
    lesson02.check_ranking = lambda *args: print("Correct: anything goes")
    with pytest.raises(ExerciseError, match="the order is reversed"):
        graded("lesson02", "check_ranking", ["b", "c"], names, distances, "a")
    graded("lesson02", "check_ranking", ["c", "b"], names, distances, "a")
    assert capsys.readouterr().out == ""  # the visible check printed the verdict already


def _hash_pairs():
    photos = samples()
    from simlab.kit import ASSETS

    copy = ASSETS / "variants" / "chelsea__lowres.jpg"
    return [(photos["chelsea"], copy, "near_duplicate"), (photos["chelsea"], photos["coffee"], "different"),
            (photos["coffee"], copy, "different")]


def test_hash_f1_compares_the_methods(capsys):
    # each hash calls the low-resolution copy the nearest: a perfect F1 for all four
    answer = {"phash": 1.0, "dhash": 1.0, "ahash": 1.0, "whash": 1.0}
    check_hash_f1(answer, "dhash", _hash_pairs())
    out = capsys.readouterr().out
    assert "phash 1.00, dhash 1.00" in out and "phash is best" in out and "(dhash) was not right" in out
    assert out.startswith("Correct: the four best F1 values are right")
    assert "Why: with phash the near-duplicates change a median of" in out and "; with dhash" in out
    with pytest.raises(ExerciseError, match="one best F1 for each method"):
        check_hash_f1({"phash": 1.0}, "phash", _hash_pairs())
    with pytest.raises(ExerciseError, match="ahash: expected a best F1 of 1.00, got 0.50"):
        check_hash_f1(dict(answer, ahash=0.5), "phash", _hash_pairs())
    with pytest.raises(ExerciseError, match="prediction_6"):
        check_hash_f1(answer, None, _hash_pairs())


def test_copy_scores_explains_hash_and_cnn(random_mobilenet, capsys):
    from PIL import ImageOps

    from simlab import embed, hash_bits, load_image
    from simlab.metrics import cosine_similarity, edit_distance, hamming_distance

    original = load_image(samples()["chelsea"])
    copies = {"mirror": ImageOps.mirror(original), "small": original.reduce(4)}
    vectors = embed(random_mobilenet, [original, *copies.values()])
    bits = {name: hash_bits(im) for name, im in {"original": original, **copies}.items()}
    right = {name: (hamming_distance(bits["original"], bits[name]),
                    cosine_similarity(vectors[0], vectors[k + 1])) for k, name in enumerate(copies)}
    check_copy_scores(right, original, copies, random_mobilenet, cosine_threshold=2.0,
                      fewest_different_bits=64)
    out = capsys.readouterr().out
    assert out.startswith("Correct: mirror: ") and "the CNN says a different photo" in out
    assert "the hash says a near-duplicate" in out

    with pytest.raises(ExerciseError, match="a \\(Hamming, cosine\\) pair for each copy"):
        check_copy_scores({"mirror": right["mirror"]}, original, copies, random_mobilenet, 0.6, 22)
    swapped = dict(right, mirror=right["mirror"][::-1])
    with pytest.raises(ExerciseError, match="mirror: the pair is swapped"):
        check_copy_scores(swapped, original, copies, random_mobilenet, 0.6, 22)
    wrong_cosine = dict(right, small=(right["small"][0], right["small"][1] - 0.1))
    with pytest.raises(ExerciseError, match="small: the stage5 cosine is"):
        check_copy_scores(wrong_cosine, original, copies, random_mobilenet, 0.6, 22)
    edit = edit_distance(bits["original"], bits["mirror"])
    assert edit < right["mirror"][0]  # edit distance lines shifted bits up: below Hamming
    with pytest.raises(ExerciseError, match="that is the edit distance"):
        check_copy_scores(dict(right, mirror=(edit, right["mirror"][1])), original, copies,
                          random_mobilenet, 0.6, 22)

# --- lesson 01 ---

# Five items in 2-D: "b" is nearest to "a" at stage1; at stage2 "c" is, although every score drops.
_NAMES = ["a", "b", "c", "d", "e"]
_STAGES = {
    "stage1": np.array([[1.0, 0.0], [0.9, 0.1], [0.5, 0.5], [0.0, 1.0], [-1.0, 0.2]]),
    "stage2": np.array([[1.0, 0.0], [0.0, 1.0], [0.2, 0.9], [-1.0, 0.5], [-1.0, -0.1]]),
}


def test_check_nearest_by_stage_measures_and_compares_the_prediction(capsys):
    from simlab.lessons.lesson01 import check_nearest_by_stage

    check_nearest_by_stage(["stage1"], _STAGES, _NAMES, "a", "b")
    out = capsys.readouterr().out
    assert "stage1: b is number 1 of 4 near a (cosine 0.99)" in out
    assert "stage2: b is number 2 of 4 near a (cosine 0.00)" in out
    assert out.rstrip().endswith("Measured: b is the nearest at stage1. Your prediction (stage1) was right.")
    check_nearest_by_stage("stage2", _STAGES, _NAMES, "a", "b")  # a wrong prediction is no error
    assert "Your prediction (stage2) was not right." in capsys.readouterr().out
    check_nearest_by_stage([], _STAGES, _NAMES, "a", "c")
    assert "c is the nearest at stage2. Your prediction (no stage) was not right." in capsys.readouterr().out


@pytest.mark.parametrize("prediction, hint", [
    (None, "write your prediction first"),
    (3, "write your prediction first"),
    (["stage1", "layer9"], "'layer9': not a stage; choose from stage1, stage2"),
])
def test_check_nearest_by_stage_wants_a_prediction(prediction, hint):
    from simlab.lessons.lesson01 import check_nearest_by_stage

    with pytest.raises(ExerciseError, match=hint):
        check_nearest_by_stage(prediction, _STAGES, _NAMES, "a", "b")


# Two originals with a copy of each kind. "crop" copies sit next to their originals; the "grey"
# copy of x sits next to y, so at k = 2 (two copies each) x's grey copy is missed.
_EDIT_NAMES = ["x", "x__crop", "x__grey", "y", "y__crop", "y__grey"]
_EDIT_VECTORS = np.array([[1.0, 0.0, 0.0], [0.99, 0.1, 0.0], [0.0, 0.9, 0.2],
                          [0.0, 1.0, 0.0], [0.1, 0.99, 0.0], [0.0, 0.95, 0.1]])


def test_edit_found_counts():
    from simlab.lessons.lesson01 import edit_found_counts

    assert edit_found_counts(_EDIT_VECTORS, _EDIT_NAMES) == {"crop": (2, 2), "grey": (1, 2)}
    with pytest.raises(ExerciseError, match="no copies"):
        edit_found_counts(_EDIT_VECTORS[:2], ["x", "y"])


def test_check_hardest_edit(capsys):
    from simlab.lessons.lesson01 import check_hardest_edit

    vectors = {"stage1": _EDIT_VECTORS, "stage5": np.eye(6) + 0.5 * np.kron(np.eye(2), np.ones((3, 3)))}
    check_hardest_edit("grey", vectors, _EDIT_NAMES)
    out = capsys.readouterr().out
    assert "crop             2/2     2/2" in out and "grey             1/2     2/2" in out
    assert "Measured: stage1 misses grey most often (1 of 2 found). Your prediction (grey) was right." in out
    check_hardest_edit("crop", vectors, _EDIT_NAMES)
    assert "Your prediction (crop) was not right." in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="one of 'crop', 'grey'"):
        check_hardest_edit(None, vectors, _EDIT_NAMES)


def test_check_hardest_edit_checks_the_students_counts(capsys):
    from simlab.lessons.lesson01 import check_hardest_edit

    vectors = {"stage1": _EDIT_VECTORS}
    check_hardest_edit("grey", vectors, _EDIT_NAMES, answer={"crop": 2, "grey": 1})
    out = capsys.readouterr().out
    assert out.startswith("Correct: your counts at stage1 match: crop 2 of 2, grey 1 of 2.")
    assert "Your prediction (grey) was right." in out
    with pytest.raises(ExerciseError, match="grey: 2 found is not what stage1 gives"):
        check_hardest_edit("grey", vectors, _EDIT_NAMES, answer={"crop": 2, "grey": 2})
    with pytest.raises(ExerciseError, match="crop: 0 is the number of copies MISSED"):
        check_hardest_edit("grey", vectors, _EDIT_NAMES, answer={"crop": 0, "grey": 1})
    with pytest.raises(ExerciseError, match="a dict with the keys 'crop', 'grey'"):
        check_hardest_edit("grey", vectors, _EDIT_NAMES, answer={"crop": 2})
    with pytest.raises(ExerciseError, match="crop: give a whole number"):
        check_hardest_edit("grey", vectors, _EDIT_NAMES, answer={"crop": "2", "grey": 1})
    with pytest.raises(ExerciseError, match="write your prediction first"):  # the prediction comes first
        check_hardest_edit(None, vectors, _EDIT_NAMES, answer={"crop": 2, "grey": 1})


def test_edit_effects_say_what_the_scripted_edits_do():
    from simlab.lessons.lesson01 import EDIT_EFFECTS

    assert "turned 8 degrees" in EDIT_EFFECTS["colour"] and "grey corners" in EDIT_EFFECTS["colour"]
    assert "so stage1 finds it" in EDIT_EFFECTS["lowres"]  # lesson 01: stage1 finds 8 of 8 lowres copies


def test_check_nearest_photo(random_mobilenet, capsys):
    from simlab import embed_stages
    from simlab.lessons.lesson01 import check_nearest_photo

    photos = samples()
    gallery = {k: photos[k] for k in ("coffee", "rocket", "grass")}
    vectors = embed_stages(random_mobilenet, [photos["chelsea"], *gallery.values()], ["stage1", "stage5"])
    cosine = {s: [float(v[0] @ w / np.linalg.norm(v[0]) / np.linalg.norm(w)) for w in v[1:]]
              for s, v in vectors.items()}
    right = {s: list(gallery)[int(np.argmax(c))] for s, c in cosine.items()}
    check_nearest_photo(right, random_mobilenet, photos["chelsea"], gallery)
    out = capsys.readouterr().out
    assert out.startswith(f"Correct: your photo's nearest kit photo is at stage1 {right['stage1']}")
    least = {**right, "stage5": list(gallery)[int(np.argmin(cosine["stage5"]))]}
    with pytest.raises(ExerciseError, match="stage5: .* is the LEAST similar photo"):
        check_nearest_photo(least, random_mobilenet, photos["chelsea"], gallery)
    with pytest.raises(ExerciseError, match="'chelsea' is not in the gallery"):
        check_nearest_photo({**right, "stage1": "chelsea"}, random_mobilenet, photos["chelsea"], gallery)
    with pytest.raises(ExerciseError, match="one photo name per stage"):
        check_nearest_photo({"stage1": "coffee"}, random_mobilenet, photos["chelsea"], gallery)

# --- lesson 04 ---


def test_check_noise_recall_needs_a_prediction_and_reports_it(capsys):
    from simlab.lessons.lesson04 import check_noise_recall

    truth = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    found = np.array([[0, 1, 9, 9], [7, 9, 9, 9]])  # 2 of 4, then 1 of 4 (at another position)
    check_noise_recall(0.375, "lower", found, truth, clustered_recall=0.98)
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and "0.38 on noise against 0.98" in out and "was right" in out
    check_noise_recall(0.375, " Higher ", found, truth, clustered_recall=0.98)
    assert "(higher) was not right" in capsys.readouterr().out  # a wrong prediction never fails
    check_noise_recall(0.375, "lower", found, truth, clustered_recall=0.2)
    assert "higher. Your prediction (lower) was not right" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="write your prediction in prediction_4 first"):
        check_noise_recall(0.375, None, found, truth, 0.98)
    with pytest.raises(ExerciseError, match="not one of"):
        check_noise_recall(0.375, "much worse", found, truth, 0.98)
    with pytest.raises(ExerciseError, match="position by position"):
        check_noise_recall(0.25, "lower", found, truth, 0.98)
    with pytest.raises(ExerciseError, match="expected a recall@4 of 0.375"):
        check_noise_recall(0.5, "lower", found, truth, 0.98)


def test_check_neighbours(capsys):
    from simlab.lessons.lesson04 import check_neighbours

    # row 0 the query; cosine order of the others: 2 (0.99), 1 (0.8, but long), 3 (tie with 4), 4, 5
    v = np.array([[1.0, 0.0], [8.0, 6.0], [1.0, 0.1], [0.0, 1.0], [0.0, 2.0], [-1.0, 0.0]])
    check_neighbours([2, 1, 3], v, query=0, k=3)
    check_neighbours([2, 1, 4], v, query=0, k=3)  # 3 and 4 have the same direction: a tie
    assert capsys.readouterr().out.count("Correct:") == 2
    for answer, hint in [([0, 2, 1], "the photo itself"), ([2, 1], "give 3 row numbers"),
                         ([1, 2, 4], "raw inner product"), ([5, 3, 4], "LEAST similar"),
                         ([2, 1, 9], "from 0 to 5"), ("abc", "list of 3 row numbers"),
                         ([2, 5, 1], r"expected rows \[2, 1, 3\]")]:
        with pytest.raises(ExerciseError, match=hint):
            check_neighbours(answer, v, query=0, k=3)


def every_check():
    import importlib
    import inspect

    for n in range(1, 5):
        module = importlib.import_module(f"simlab.lessons.lesson0{n}")
        for name in module.__all__:
            function = getattr(module, name)
            if not name.startswith("check_") or inspect.getmodule(function) is not module:
                continue
            # a prediction-first check reads the prediction with the data it is about (tested above)
            if next(iter(inspect.signature(function).parameters)) != "prediction":
                yield pytest.param(function, id=f"lesson0{n}.{name}")


@pytest.mark.parametrize("check", list(every_check()))
def test_an_unanswered_exercise_gets_a_message_not_a_type_error(check):
    import inspect

    required = [p for p in inspect.signature(check).parameters.values() if p.default is p.empty]
    with pytest.raises(ExerciseError, match="no answer yet"):
        check(*[None] * len(required))


def test_a_count_of_pairs_must_be_a_whole_number():
    from simlab.lessons.lesson04 import check_pair_count

    vectors = np.eye(3) + 0.1
    with pytest.raises(ExerciseError, match="whole number, got 3.7"):
        check_pair_count(3.7, vectors, 0.5)

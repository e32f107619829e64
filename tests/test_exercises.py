"""Each exercise check: a right answer passes, typical wrong answers get a helpful message."""

from pathlib import Path

import numpy as np
import pytest

import simlab.lessons.checks as checks
from simlab.kit import samples
from simlab.lessons.checks import CHOICES, ExerciseError, check_choice, graded
from simlab.lessons.lesson01 import check_output_shape
from simlab.lessons.lesson02 import (
    check_copy_scores,
    check_hash_f1,
    check_own_threshold,
    check_unit_euclidean_f1,
)
from simlab.lessons.lesson03 import check_threshold
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




# --- the remaining messages: each check's other typical mistakes, and its fallback ---------------


def test_output_shape_other_mistakes(random_mobilenet, capsys):
    check_output_shape([32, 40, 60], random_mobilenet, "stage3", 320, 480)  # a list is fine too
    assert "stage3 turns a 320x480 image into 32 maps of 40x60" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match=r"give a tuple \(C, H, W\) of three numbers, not 32"):
        check_output_shape(32, random_mobilenet, "stage3", 320, 480)
    with pytest.raises(ExerciseError, match=r"spatial size is off: expected ceil\(320/8\) x ceil\(480/8\)"):
        check_output_shape((32, 80, 120), random_mobilenet, "stage3", 320, 480)




# ------------------------------------------------------------------------------ lesson 04
# The checks of Exercises 1-4 are tested in tests/test_lesson04_checks.py.


# --- lesson 03: a threshold (the AUC, box masks and face failures: tests/test_lesson03_checks.py) ------

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


# --- lesson 02 ---


def _pair_data():
    """Four files: rows 0/1 and 2/3 point the same way with very different lengths (near-duplicates
    for cosine); rows 0 and 2 have the same length but other directions."""
    vectors = np.array([[1.0, 0.1, 0.0], [8.0, 0.9, 0.1], [0.0, 1.0, 0.1], [0.1, 7.0, 0.8]])
    ia, ib = np.array([0, 2, 0, 1, 0]), np.array([1, 3, 2, 3, 3])
    same = np.array([True, True, False, False, False])
    return vectors, ia, ib, same


@pytest.fixture
def no_predictions_yet(monkeypatch):
    """A kernel in which no prediction was made yet and no answer shown (lesson 02's checks)."""
    monkeypatch.setattr(checks, "_PREDICTIONS", {})
    monkeypatch.setattr(checks, "_REVEALED", set())


def test_unit_euclidean_f1_reports_the_prediction(no_predictions_yet, capsys):
    from simlab.lessons.lesson02 import _best_f1
    from simlab.metrics import pairwise

    vectors, ia, ib, same = _pair_data()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    f1_unit = _best_f1(-pairwise(unit, metric="euclidean")[ia, ib], same)
    assert f1_unit == _best_f1(pairwise(vectors)[ia, ib], same) == 1.0  # the same as cosine
    checks.predict("02-unit-euclidean", "the same", ("higher", "lower", "the same"))
    checks.reveal("02-unit-euclidean")
    capsys.readouterr()
    check_unit_euclidean_f1(f1_unit, "the same", vectors, ia, ib, same)
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and "Your prediction (the same) was right. Why: on unit vectors" in out
    checks._PREDICTIONS["02-unit-euclidean"] = ("Higher", False)  # another student's kernel
    check_unit_euclidean_f1(f1_unit, "Higher", vectors, ia, ib, same)  # a wrong prediction never fails
    out = capsys.readouterr().out
    assert out.startswith("Computed right:") and "Correct" not in out
    assert "Your prediction (higher) was not right. Why: on unit vectors |a-b|^2 = 2 - 2 cos" in out


def test_unit_euclidean_f1_wants_the_prediction_made_before_the_reveal(no_predictions_yet):
    vectors, ia, ib, same = _pair_data()
    with pytest.raises(ExerciseError, match="prediction_1 was never recorded"):
        check_unit_euclidean_f1(1.0, "the same", vectors, ia, ib, same)
    checks.reveal("02-unit-euclidean")
    checks.predict("02-unit-euclidean", "the same", ("higher", "lower", "the same"))
    with pytest.raises(ExerciseError, match="recorded after the answer was shown"):
        check_unit_euclidean_f1(1.0, "the same", vectors, ia, ib, same)


@pytest.mark.parametrize("prediction, hint", [
    (None, "write your prediction in prediction_1 first"),
    ("", "write your prediction"),
    ("bigger", "not one of 'higher', 'lower', 'the same'"),
])
def test_unit_euclidean_f1_needs_a_prediction(no_predictions_yet, prediction, hint):
    vectors, ia, ib, same = _pair_data()
    checks.predict("02-unit-euclidean", "the same")
    with pytest.raises(ExerciseError, match=hint):
        check_unit_euclidean_f1(1.0, prediction, vectors, ia, ib, same)


def test_unit_euclidean_f1_explains_mistakes(no_predictions_yet):
    from simlab.lessons.lesson02 import _best_f1
    from simlab.metrics import pairwise

    checks.predict("02-unit-euclidean", "lower")
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

    data = _own_pairs()
    lesson02.check_own_threshold = lambda *args: print("Correct: anything goes")
    with pytest.raises(ExerciseError, match="best-F1 threshold of the tuning half"):
        graded("lesson02", "check_own_threshold", {"threshold": 0.3, "precision": 1.0, "recall": 1.0}, *data)
    graded("lesson02", "check_own_threshold", {"threshold": 0.9, "precision": 1.0, "recall": 0.8}, *data)
    assert capsys.readouterr().out == ""  # the visible check printed the verdict already


def _hash_pairs():
    photos = samples()
    from simlab.kit import ASSETS

    copy = ASSETS / "variants" / "chelsea__lowres.jpg"
    return [(photos["chelsea"], copy, "near_duplicate"), (photos["chelsea"], photos["coffee"], "different"),
            (photos["coffee"], copy, "different")]


def test_hash_f1_compares_the_methods(no_predictions_yet, capsys):
    # each hash calls the low-resolution copy the nearest: a perfect F1 for all four
    answer = {"phash": 1.0, "dhash": 1.0, "ahash": 1.0, "whash": 1.0}
    checks.predict("02-best-hash", "dhash")
    capsys.readouterr()
    check_hash_f1(answer, "dhash", _hash_pairs())
    out = capsys.readouterr().out
    assert "phash 1.00, dhash 1.00" in out and "phash is best" in out
    assert "(dhash) was not right. Why: " in out
    assert out.startswith("Computed right: the four best F1 values are") and "Correct" not in out
    assert "the median bits of 64 that change with phash: lowres 0, different" in out and "with dhash" in out
    checks._PREDICTIONS["02-best-hash"] = ("phash", False)
    check_hash_f1(answer, "phash", _hash_pairs())
    out = capsys.readouterr().out
    assert out.startswith("Correct: the four best F1") and "Your prediction (phash) was right. Why:" in out
    with pytest.raises(ExerciseError, match="one best F1 for each method"):
        check_hash_f1({"phash": 1.0}, "phash", _hash_pairs())
    with pytest.raises(ExerciseError, match="ahash: expected a best F1 of 1.00, got 0.50"):
        check_hash_f1(dict(answer, ahash=0.5), "phash", _hash_pairs())
    with pytest.raises(ExerciseError, match="prediction_6"):
        check_hash_f1(answer, None, _hash_pairs())
    checks._PREDICTIONS.clear()
    with pytest.raises(ExerciseError, match="prediction_6 was never recorded"):
        check_hash_f1(answer, "phash", _hash_pairs())


def _own_pairs():
    """(my_pairs, tune_pairs, test_pairs, tune_scores, test_scores): 10 photos with a copy each and
    different pairs, split by photo; in the held-out half one copy scores below the threshold."""
    from simlab.kit import split_pairs

    pairs = [(f"p{k}.jpg", f"p{k}__copy.jpg", "near_duplicate") for k in range(10)]
    pairs += [(f"p{k}.jpg", f"p{j}.jpg", "different") for k in range(10) for j in range(k + 1, 10, 3)]
    tune, test = split_pairs(pairs)
    tune_scores = [0.9 if r == "near_duplicate" else 0.3 for *_, r in tune]
    test_scores = [0.9 if r == "near_duplicate" else 0.3 for *_, r in test]
    test_scores[[r for *_, r in test].index("near_duplicate")] = 0.5  # one copy the threshold misses
    return pairs, tune, test, tune_scores, test_scores


def test_own_threshold_checks_the_procedure(capsys):
    pairs, tune, test, tune_scores, test_scores = _own_pairs()
    n_dup = sum(r == "near_duplicate" for *_, r in test)
    right = {"threshold": 0.9, "precision": 1.0, "recall": (n_dup - 1) / n_dup}
    check_own_threshold(right, pairs, tune, test, tune_scores, test_scores)
    out = capsys.readouterr().out
    assert out.startswith("Correct: threshold 0.90 chosen on the") and f"recall {right['recall']:.2f}" in out
    with pytest.raises(ExerciseError, match="best F1 on the HELD-OUT half"):  # 0.5: tuned on the test
        check_own_threshold(dict(right, threshold=0.5), pairs, tune, test, tune_scores, test_scores)
    with pytest.raises(ExerciseError, match="TUNING half's precision and recall"):
        check_own_threshold(dict(right, recall=1.0), pairs, tune, test, tune_scores, test_scores)
    with pytest.raises(ExerciseError, match="swapped"):
        check_own_threshold({"threshold": 0.9, "precision": right["recall"], "recall": 1.0},
                            pairs, tune, test, tune_scores, test_scores)


def test_own_threshold_wants_enough_pairs_split_by_photo():
    pairs, tune, test, tune_scores, test_scores = _own_pairs()
    answer = {"threshold": 0.9, "precision": 1.0, "recall": 0.8}
    with pytest.raises(ExerciseError, match="at least 20 pairs"):
        check_own_threshold(answer, tune + test, tune, test, tune_scores, test_scores)
    leaky = test + [next(p for p in tune if p[2] == "near_duplicate")]  # a tuning photo in the test half
    with pytest.raises(ExerciseError, match="is in both halves: split by photo"):
        check_own_threshold(answer, pairs, tune, leaky, tune_scores, [*test_scores, 0.9])
    with pytest.raises(ExerciseError, match="one finite score per pair of the held-out half"):
        check_own_threshold(answer, pairs, tune, test, tune_scores, test_scores[:-1])
    only_copies = [p for p in test if p[2] == "near_duplicate"]
    with pytest.raises(ExerciseError, match="held-out half needs near-duplicates and different pairs"):
        check_own_threshold(answer, pairs, tune, only_copies, tune_scores, [0.9] * len(only_copies))


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

    check_nearest_by_stage(["stage1"], _STAGES, _NAMES, "a", "b", question=None)
    out = capsys.readouterr().out
    assert "stage1: b is number 1 of 4 near a (cosine 0.99)" in out
    assert "stage2: b is number 2 of 4 near a (cosine 0.00)" in out
    assert out.rstrip().endswith("Measured: b is the nearest at stage1. Your prediction (stage1) was right.")
    check_nearest_by_stage("stage2", _STAGES, _NAMES, "a", "b", question=None)  # wrong: no error
    out = capsys.readouterr().out
    assert "Your prediction (stage2) was not right." in out
    assert "Why at stage1 too: 'nearest' is the highest score" in out and "Why not at stage2: another" in out
    check_nearest_by_stage([], _STAGES, _NAMES, "a", "c", question=None)
    assert "c is the nearest at stage2. Your prediction (no stage) was not right." in capsys.readouterr().out


def test_check_nearest_by_stage_wants_the_prediction_recorded_before_the_answer(monkeypatch, capsys):
    from simlab.lessons.lesson01 import check_nearest_by_stage

    monkeypatch.setattr(checks, "_PREDICTIONS", {})
    monkeypatch.setattr(checks, "_REVEALED", set())
    with pytest.raises(ExerciseError, match="prediction_4 was never recorded"):
        check_nearest_by_stage(["stage1"], _STAGES, _NAMES, "a", "b")
    checks.reveal("01-grass-gravel")
    checks.predict("01-grass-gravel", ["stage1"])
    with pytest.raises(ExerciseError, match="recorded after the answer was shown"):
        check_nearest_by_stage(["stage1"], _STAGES, _NAMES, "a", "b")
    monkeypatch.setattr(checks, "_REVEALED", set())
    checks.predict("01-grass-gravel", ["stage1"])
    checks.reveal("01-grass-gravel")
    check_nearest_by_stage(["stage1"], _STAGES, _NAMES, "a", "b")
    assert "Your prediction (stage1) was right." in capsys.readouterr().out


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


@pytest.fixture
def fresh_predictions(monkeypatch):
    """A kernel in which no prediction was recorded and no answer shown yet."""
    monkeypatch.setattr(checks, "_PREDICTIONS", {})
    monkeypatch.setattr(checks, "_REVEALED", set())


def test_check_hardest_edit(capsys, fresh_predictions):
    from simlab.lessons.lesson01 import check_hardest_edit

    vectors = {"stage1": _EDIT_VECTORS, "stage5": np.eye(6) + 0.5 * np.kron(np.eye(2), np.ones((3, 3)))}
    with pytest.raises(ExerciseError, match="prediction_6 was never recorded"):
        check_hardest_edit("grey", vectors, _EDIT_NAMES)
    checks.predict("01-hardest-edit", "grey")
    checks.reveal("01-hardest-edit")
    check_hardest_edit("grey", vectors, _EDIT_NAMES)
    out = capsys.readouterr().out
    assert "crop             2/2     2/2" in out and "grey             1/2     2/2" in out
    assert "Measured: stage1 misses grey most often (1 of 2 found). Your prediction (grey) was right." in out
    assert "Why not" not in out
    with pytest.raises(ExerciseError, match="prediction_6 is now 'crop' but 'grey' was recorded"):
        check_hardest_edit("crop", vectors, _EDIT_NAMES)
    check_hardest_edit("crop", vectors, _EDIT_NAMES, question=None)  # a wrong prediction: its reason
    out = capsys.readouterr().out
    assert "Your prediction (crop) was not right." in out
    assert "Why not crop: stage1 finds 2 of 2 of those copies, more than 1 of 2: a crop drops" in out
    with pytest.raises(ExerciseError, match="one of 'crop', 'grey'"):
        check_hardest_edit(None, vectors, _EDIT_NAMES)


def test_check_hardest_edit_checks_the_students_counts(capsys, fresh_predictions):
    from simlab.lessons.lesson01 import check_hardest_edit

    vectors = {"stage1": _EDIT_VECTORS}
    checks.predict("01-hardest-edit", "grey")
    capsys.readouterr()
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
    # lesson 01: stage1 finds 8 of 8 lowres copies, stage2 4 of 8 and stage3 5 of 8
    assert "so stage1 finds it" in EDIT_EFFECTS["lowres"] and "stage2 and stage3" in EDIT_EFFECTS["lowres"]
    assert "removes ALL the colour" in EDIT_EFFECTS["mirror_grey"]


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

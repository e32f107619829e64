"""Lesson 03's exercise checks: a right answer passes, typical wrong answers get a message saying why."""

import numpy as np
import pytest

import simlab.lessons.checks as checks
import simlab.lessons.lesson03 as lesson03
from simlab.embedding import embed
from simlab.kit import people_photos
from simlab.lessons.checks import ExerciseError, predict, reveal
from simlab.lessons.lesson03 import BEST_WAY, check_auc, check_box_pooling, check_face_failure, model_files
from simlab.metrics import pairwise


@pytest.fixture(autouse=True)
def fresh_kernel(monkeypatch):
    """No prediction recorded and no answer revealed yet, as in a new kernel."""
    monkeypatch.setattr(checks, "_PREDICTIONS", {})
    monkeypatch.setattr(checks, "_REVEALED", set())


# --- Exercise 1: the AUC, and the prediction recorded before section 2 ---------------------------

SAME = np.array([True, True, False, False, False])
SCORES = {"whole image": np.array([0.9, 0.5, 0.6, 0.4, 0.7]),  # 4 of 6 (same, other) ranked right
          "person-masked pooling": np.array([0.9, 0.4, 0.6, 0.5, 0.7]),  # 3 of 6
          "face identity (dlib)": -np.array([0.3, 0.4, 0.8, 0.9, 0.7])}  # all 6


def _predict_then_reveal(prediction):
    predict(BEST_WAY, prediction, tuple(SCORES))
    reveal(BEST_WAY)


def test_check_auc_with_a_prediction_made_first(capsys):
    _predict_then_reveal("Face identity (dlib)")
    check_auc(4 / 6, SCORES, SAME, prediction="Face identity (dlib)")
    out = capsys.readouterr().out
    assert "Correct: AUC 0.667 for the whole image. The largest: face identity (dlib) (1.000)" in out
    assert "trained to pull photos of one person together" in out and "was right" in out


def test_a_wrong_prediction_is_told_why_its_way_falls_short(capsys):
    _predict_then_reveal("person-masked pooling")
    check_auc(4 / 6, SCORES, SAME, prediction="person-masked pooling")
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("Computed right: AUC")
    assert "Correct" not in out  # not "Correct" for a wrong prediction
    assert "Your prediction (person-masked pooling) was not right" in out
    assert "Why: person-masked pooling falls short (0.500): removing the background leaves the body" in out


def test_check_auc_refuses_a_prediction_made_after_the_table():
    reveal(BEST_WAY)
    predict(BEST_WAY, "whole image", tuple(SCORES))
    with pytest.raises(ExerciseError, match="recorded after the answer was shown"):
        check_auc(4 / 6, SCORES, SAME, prediction="whole image")


def test_check_auc_refuses_a_prediction_never_recorded_or_changed():
    with pytest.raises(ExerciseError, match="never recorded"):
        check_auc(4 / 6, SCORES, SAME, prediction="whole image")
    _predict_then_reveal("whole image")
    with pytest.raises(ExerciseError, match=r"is now 'face identity \(dlib\)' but 'whole image' was"):
        check_auc(4 / 6, SCORES, SAME, prediction="face identity (dlib)")


@pytest.mark.parametrize("answer, prediction, hint", [
    (2 / 6, "whole image", "1 - AUC"),
    (0.5, "whole image", "not the AUC of the whole image"),
    (4, "whole image", "between 0 and 1"),
    ("high", "whole image", "one number"),
    (None, "whole image", "no answer yet"),
    (4 / 6, None, "write your prediction"),
    (4 / 6, "faces", "not one of"),
])
def test_check_auc_explains_mistakes(answer, prediction, hint):
    _predict_then_reveal("whole image")
    with pytest.raises(ExerciseError, match=hint):
        check_auc(answer, SCORES, SAME, prediction=prediction)


# --- Exercise 3: box masks in masked pooling ----------------------------------------------------

def _people_on_backgrounds():
    """Four 64 x 64 photos: two 'people' (a block of one colour each) on two backgrounds."""
    rng = np.random.default_rng(0)
    backgrounds = {"wall": rng.integers(0, 255, (64, 64, 3)), "grass": rng.integers(0, 255, (64, 64, 3))}
    people = {"ann": (220, 40, 40), "bo": (40, 40, 220)}
    person = np.zeros((64, 64), dtype=bool)
    person[20:50, 24:40] = True
    person[14:20, 28:36] = True  # a head: the box is larger than the person
    images, masks = {}, {}
    for p, colour in people.items():
        for b, pixels in backgrounds.items():
            photo = pixels.copy()
            photo[person] = colour
            images[f"{p}_on_{b}"], masks[f"{p}_on_{b}"] = photo.astype(np.uint8), person.copy()
    same = [("ann_on_wall", "ann_on_grass"), ("bo_on_wall", "bo_on_grass")]
    other = [("ann_on_wall", "bo_on_wall"), ("ann_on_grass", "bo_on_grass")]
    return images, masks, same, other


def _boxes(masks):
    boxes = {}
    for name, mask in masks.items():
        rows, cols = np.nonzero(mask)
        boxes[name] = np.zeros_like(mask)
        boxes[name][rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
    return boxes


def _gap(backbone, images, masks, same, other):
    names = list(images)
    s = pairwise(embed(backbone, [images[n] for n in names], masks=[masks[n] for n in names]))
    scores = [s[names.index(a), names.index(b)] for a, b in same + other]
    return min(scores[:len(same)]) - max(scores[len(same):])


def test_check_box_pooling_accepts_the_boxes_and_their_gap(random_mobilenet, capsys):
    images, masks, same, other = _people_on_backgrounds()
    boxes = _boxes(masks)
    gap = _gap(random_mobilenet, images, boxes, same, other)
    check_box_pooling(gap, boxes, masks, images, same, other, random_mobilenet)
    out = capsys.readouterr().out
    assert out.startswith(f"Correct: gap {gap:+.2f} with the boxes, ")
    assert f"the boxes cover {np.mean([b.mean() for b in boxes.values()]):.0%} of the picture" in out
    with pytest.raises(ExerciseError, match="sign is flipped"):
        check_box_pooling(-gap, boxes, masks, images, same, other, random_mobilenet)
    with pytest.raises(ExerciseError, match="is not the box masks' gap"):
        check_box_pooling(gap + 0.1, boxes, masks, images, same, other, random_mobilenet)


@pytest.mark.parametrize("spoil, hint", [
    (lambda box, person: person.copy(), "is the person mask itself"),
    (lambda box, person: ~box, "inverted"),
    (lambda box, person: box.astype(np.uint8), "make it boolean"),
    (lambda box, person: box.T[:, :32], "rows first"),
    (lambda box, person: np.roll(box, 3, axis=0), "differs from the smallest box"),
])
def test_check_box_pooling_names_the_wrong_mask(random_mobilenet, spoil, hint):
    images, masks, same, other = _people_on_backgrounds()
    boxes = _boxes(masks)
    boxes["bo_on_grass"] = spoil(boxes["bo_on_grass"], masks["bo_on_grass"])
    with pytest.raises(ExerciseError, match=rf"box_masks\['bo_on_grass'\].*{hint}"):
        check_box_pooling(0.1, boxes, masks, images, same, other, random_mobilenet)


def test_check_box_pooling_knows_the_off_by_one_and_a_missing_answer(random_mobilenet):
    images, masks, same, other = _people_on_backgrounds()
    boxes = _boxes(masks)
    with pytest.raises(ExerciseError, match="no answer yet"):
        check_box_pooling(None, boxes, masks, images, same, other, random_mobilenet)
    with pytest.raises(ExerciseError, match="one mask per photo"):
        check_box_pooling(0.1, {"ann_on_wall": boxes["ann_on_wall"]}, masks, images, same, other,
                          random_mobilenet)
    rows, cols = np.nonzero(masks["ann_on_wall"])
    short = np.zeros_like(boxes["ann_on_wall"])
    short[rows.min():rows.max(), cols.min():cols.max()] = True  # the end of each slice left out
    with pytest.raises(ExerciseError, match="off by one"):
        check_box_pooling(0.1, boxes | {"ann_on_wall": short}, masks, images, same, other, random_mobilenet)


# --- Exercise 4: a failure of the face model ----------------------------------------------------

@pytest.fixture(scope="module")
def faces():
    from simlab.faces import face_embeddings

    london, white_house = people_photos("london"), people_photos("whitehouse")
    pairs = {"false match": (london["062_smiling"], london["126_neutral"]),  # two volunteers, below 0.6
             "right": (white_house["obama"], white_house["obama3"])}  # one man, below 0.6
    distance = {k: float(np.linalg.norm(np.subtract(*face_embeddings(list(v))))) for k, v in pairs.items()}
    return pairs, distance


NOTE = "two young women photographed the same way in one studio"


def test_check_face_failure_accepts_a_false_match(faces, capsys):
    pairs, distance = faces
    d = distance["false match"]
    assert d < 0.6  # the kit's pair is a failure: two people the rule calls one
    check_face_failure(d, *pairs["false match"], False, True, NOTE)
    assert capsys.readouterr().out == f"Correct: distance {d:.2f}: a false match (two people called the " \
                                      "same). Compare your reason with the limits of section 12.\n"


def test_check_face_failure_refuses_a_pair_the_model_gets_right(faces):
    pairs, distance = faces
    with pytest.raises(ExerciseError, match="not a failure: .* these show one person"):
        check_face_failure(distance["right"], *pairs["right"], True, True, NOTE)


@pytest.mark.parametrize("change, hint", [
    ({"answer": "squared"}, "squared distance"),
    ({"answer": "plus"}, "not the Euclidean distance"),
    ({"called_same": False}, "called_same is True, not False"),
    ({"called_same": "yes"}, "True or False"),
    ({"note": "no idea"}, "why you think the model failed"),
    ({"note": None}, "why you think the model failed"),
])
def test_check_face_failure_explains_mistakes(faces, change, hint):
    pairs, distance = faces
    d = distance["false match"]
    answer = {"squared": d**2, "plus": d + 0.1}.get(change.get("answer"), d)
    called = change.get("called_same", True)
    note = change.get("note", NOTE)
    with pytest.raises(ExerciseError, match=hint):
        check_face_failure(answer, *pairs["false match"], False, called, note)


def test_check_face_failure_wants_faces(faces):
    pairs, _ = faces
    with pytest.raises(ExerciseError, match="frontal face"):
        check_face_failure(0.5, pairs["right"][0], np.zeros((64, 64, 3), dtype=np.uint8), True, False, NOTE)


# --- the lesson's model files --------------------------------------------------------------------

def test_model_files_gives_paths_and_says_how_to_fetch_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(lesson03, "cache_dir", lambda: tmp_path)  # an empty cache: no DeepLabV3 here
    files = model_files()
    assert files["dlib_face_recognition"].name == "dlib_face_recognition_resnet_model_v1.dat"
    assert all(files[n].is_file() for n in ("dlib_face_landmarks_5", "dlib_face_recognition",
                                             "selfie_segmentation"))
    assert files["deeplabv3_mobilenet_v3_large"] == \
        "not here: python -m simlab fetch deeplabv3_mobilenet_v3_large (online, once)"
    (tmp_path / lesson03.KNOWN["lraspp_mobilenet_v3_large"].filename).write_bytes(b"weights")
    assert model_files()["lraspp_mobilenet_v3_large"] == tmp_path / "lraspp_mobilenet_v3_large-d234d4ea.pth"

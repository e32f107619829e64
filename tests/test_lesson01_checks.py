"""Lesson 01's transfer checks: they verify the computation the student made on the photo the
student chose (not a fixed number), and say what was likely miscounted."""

import numpy as np
import pytest
from PIL import ImageOps

from simlab.embedding import embed_stages
from simlab.features import extract_features
from simlab.images import load_image
from simlab.kit import samples
from simlab.lessons.checks import ExerciseError
from simlab.lessons.lesson01 import check_channel_peak, check_copy_ranks, check_nearest_photo


@pytest.fixture(scope="module")
def photos():
    found = samples()
    return {k: found[k] for k in ("chelsea", "coffee", "rocket", "grass")}


def _peak(backbone, image, stage, channel):
    fmap = extract_features(backbone, image, [stage])[stage][0, channel]
    return divmod(int(fmap.argmax()), fmap.shape[1]), fmap


def test_channel_peak_accepts_the_students_own_choice(random_mobilenet, photos, capsys):
    (row, col), _ = _peak(random_mobilenet, photos["coffee"], "stage3", 5)
    answer = {"image": "coffee", "stage": "stage3", "channel": 5, "peak": (row, col),
              "responds_to": "the rim of the cup"}
    check_channel_peak(answer, random_mobilenet, photos)
    out = capsys.readouterr().out
    assert out.startswith(f"Correct: coffee, stage3 channel 5 fires most at row {row}, col {col}")
    assert f"pixels {row * 8}-{row * 8 + 7} (down)" in out and "'the rim of the cup'" in out


def test_channel_peak_explains_what_is_wrong(random_mobilenet, photos):
    (row, col), fmap = _peak(random_mobilenet, photos["chelsea"], "stage2", 3)
    base = {"image": "chelsea", "stage": "stage2", "channel": 3, "peak": (row, col),
            "responds_to": "dark stripes of fur"}
    low_row, low_col = divmod(int(fmap.argmin()), fmap.shape[1])
    with pytest.raises(ExerciseError, match="not its highest value: take the argmax"):
        check_channel_peak({**base, "peak": (low_row, low_col)}, random_mobilenet, photos)
    assert row != col and float(fmap[col, row]) < float(fmap.max())  # (29, 19) with these weights
    with pytest.raises(ExerciseError, match="row and col are swapped"):
        check_channel_peak({**base, "peak": (col, row)}, random_mobilenet, photos)
    with pytest.raises(ExerciseError, match="outside the map: stage2 is 56 x 56"):
        check_channel_peak({**base, "peak": (56, 0)}, random_mobilenet, photos)
    with pytest.raises(ExerciseError, match="say in a few words"):
        check_channel_peak({**base, "responds_to": "fur"}, random_mobilenet, photos)
    with pytest.raises(ExerciseError, match="stage2 has the channels 0 to 23"):
        check_channel_peak({**base, "channel": 24}, random_mobilenet, photos)
    with pytest.raises(ExerciseError, match="choose a channel of stage2 or stage3"):
        check_channel_peak({**base, "stage": "stage5"}, random_mobilenet, photos)
    with pytest.raises(ExerciseError, match="'dog' is not one of the photos"):
        check_channel_peak({**base, "image": "dog"}, random_mobilenet, photos)
    with pytest.raises(ExerciseError, match="the keys 'image', 'stage'"):
        check_channel_peak({"image": "chelsea"}, random_mobilenet, photos)
    with pytest.raises(ExerciseError, match="no answer yet"):
        check_channel_peak(None, random_mobilenet, photos)


def test_copy_ranks_are_measured_on_the_students_photo_and_copy(random_mobilenet, photos, capsys):
    mine = load_image(photos["chelsea"])
    copy = ImageOps.mirror(ImageOps.grayscale(mine)).convert("RGB")
    gallery = {k: v for k, v in photos.items() if k != "chelsea"}
    vectors = embed_stages(random_mobilenet, [mine, copy, *gallery.values()])
    ranks = {}
    for stage, v in vectors.items():
        unit = v / np.linalg.norm(v, axis=1, keepdims=True)
        scores = unit[1:] @ unit[0]
        ranks[stage] = 1 + int((scores[1:] > scores[0]).sum())
    check_copy_ranks(ranks, random_mobilenet, mine, copy, gallery)
    out = capsys.readouterr().out
    assert out.startswith("Correct: your ranks match. stage1: rank ")
    nearest = [s for s, r in ranks.items() if r == 1]
    assert (f"the nearest at {', '.join(nearest)}." if nearest else "the nearest at no stage.") in out
    # the same answer does not pass for another copy: the check measures what it is given
    far = {**ranks, "stage5": ranks["stage5"] + 2}
    with pytest.raises(ExerciseError, match="stage5: .* is not the copy's rank"):
        check_copy_ranks(far, random_mobilenet, mine, copy, gallery)
    with pytest.raises(ExerciseError, match="stage1: ranks start at 1"):
        check_copy_ranks({**ranks, "stage1": ranks["stage1"] - 1}, random_mobilenet, mine, copy, gallery)
    with pytest.raises(ExerciseError, match="stage1: one too many; leave your photo itself out"):
        check_copy_ranks({**ranks, "stage1": ranks["stage1"] + 1}, random_mobilenet, mine, copy, gallery)
    with pytest.raises(ExerciseError, match="one rank per stage"):
        check_copy_ranks({"stage1": 1}, random_mobilenet, mine, copy, gallery)
    with pytest.raises(ExerciseError, match="stage2: give the rank as a whole number"):
        check_copy_ranks({**ranks, "stage2": 1.5}, random_mobilenet, mine, copy, gallery)


def test_nearest_photo_when_the_stages_agree(random_mobilenet, photos, capsys):
    gallery = {k: v for k, v in photos.items() if k != "chelsea"}
    nearest = {}
    for stage, v in embed_stages(random_mobilenet, [photos["chelsea"], *gallery.values()],
                                 ["stage1", "stage5"]).items():
        unit = v / np.linalg.norm(v, axis=1, keepdims=True)
        nearest[stage] = list(gallery)[int(np.argmax(unit[1:] @ unit[0]))]
    assert nearest["stage1"] == nearest["stage5"]  # random weights: coffee at both stages
    check_nearest_photo(nearest, random_mobilenet, photos["chelsea"], gallery)
    assert capsys.readouterr().out.rstrip().endswith("Both stages agree.")


def test_nearest_photo_says_what_to_look_at_when_the_stages_disagree(pretrained, capsys):
    """The lesson's default: the cat's nearest kit photo is coffee at stage1, the cameraman at
    stage5; the check then asks about colours (with the colour histogram's pick) and content."""
    found = samples()
    gallery = {k: found[k] for k in ("coffee", "camera", "grass", "rocket", "motorcycle_left")}
    check_nearest_photo({"stage1": "coffee", "stage5": "camera"}, pretrained, found["chelsea"], gallery)
    out = capsys.readouterr().out
    assert "The stages disagree" in out
    assert "stage1: by colour histogram alone your photo's nearest is motorcycle_left, not coffee" in out
    assert "stage5: does camera show the same kind of thing as your photo?" in out

"""Predict-first questions: a check knows whether the prediction was recorded before the answer."""

import pytest

import simlab.lessons.checks as checks
from simlab.lessons.checks import ExerciseError, predict, recorded_prediction, reveal


@pytest.fixture(autouse=True)
def fresh_kernel(monkeypatch):
    monkeypatch.setattr(checks, "_PREDICTIONS", {})
    monkeypatch.setattr(checks, "_REVEALED", set())


def test_a_prediction_made_first_counts(capsys):
    predict("q", "Higher", ("higher", "lower"))
    reveal("q")
    assert "recorded before the answer" in capsys.readouterr().out
    assert recorded_prediction("q", "higher", "p", ("higher", "lower")) == "higher"
    assert recorded_prediction("q", "Higher", "p") == "Higher"


def test_a_prediction_made_after_the_answer_does_not(capsys):
    reveal("q")
    predict("q", "lower", ("higher", "lower"))
    assert "already shown" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="recorded after the answer was shown"):
        recorded_prediction("q", "lower", "prediction_4", ("higher", "lower"))


def test_a_prediction_changed_after_the_answer_does_not():
    predict("q", "higher", ("higher", "lower"))
    reveal("q")
    with pytest.raises(ExerciseError, match="prediction_4 is now 'lower' but 'higher' was recorded"):
        recorded_prediction("q", "lower", "prediction_4", ("higher", "lower"))


def test_an_unanswered_prediction_lets_the_lesson_run_on_and_fails_its_check(capsys):
    predict("q", None, ("higher", "lower"))
    assert "No prediction yet" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="write your prediction in prediction_4 first"):
        recorded_prediction("q", None, "prediction_4", ("higher", "lower"))
    with pytest.raises(ExerciseError, match="never recorded"):
        recorded_prediction("q", "higher", "prediction_4", ("higher", "lower"))


def test_a_prediction_outside_the_choices_is_refused_at_once():
    with pytest.raises(ExerciseError, match="not one of 'higher', 'lower'"):
        predict("q", "same", ("higher", "lower"))

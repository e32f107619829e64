"""What every lesson's exercise checks share: the error, the wording of a verdict, reading an answer.

A check prints ``Correct: ...`` for a right answer (and returns nothing), and raises
:class:`ExerciseError` (an ``AssertionError``, so that nbgrader counts it as a failed test; note
that ``python -O`` strips asserts, not raised exceptions) whose message says in plain words what
is wrong. Predict-first checks need the student's prediction (a missing one fails) and say whether
it was right (a wrong one never fails). A prediction is made in the lesson's body, before the cell
that shows the answer: :func:`predict` records it there, :func:`reveal` marks the cell that shows
the answer, and the check (:func:`recorded_prediction`) knows whether it was made first.
Multiple-choice "why" questions go through :func:`check_choice`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import json
import math
import secrets
from pathlib import Path

__all__ = ["CHOICES", "ExerciseError", "check_choice", "correct", "graded", "open_choice", "predict",
           "read_number", "read_prediction", "recorded_prediction", "report_prediction",
           "require_answer", "reveal", "seal_choice", "verdict"]


class ExerciseError(AssertionError):
    """A student's answer is wrong; the message explains why."""


def correct(message: str) -> None:
    """Print the verdict of a right answer, ``Correct: <message>``.

    It returns nothing: nbgrader reads a check cell's output as partial credit, so a check that
    passes must show only its printed message.
    """
    print(f"Correct: {message}")


def read_prediction(prediction, choices, name: str) -> str:
    """A student's prediction as one of ``choices`` (case, spaces and "the" ignored).

    A missing prediction (None or empty) fails, a wrong one never does: the check reports it.
    """
    if prediction is None or not str(prediction).strip():
        raise ExerciseError(f"write your prediction in {name} first, before you compute: one of "
                            f"{', '.join(map(repr, choices))}")
    for choice in choices:
        if _plain(prediction) == _plain(choice):
            return choice
    raise ExerciseError(f"{name} = {prediction!r} is not one of {', '.join(map(repr, choices))}")


#: The predictions made in this kernel: question id -> (the prediction as given, whether the
#: answer had been shown when it was made). ``reveal`` adds the question to ``_REVEALED``.
_PREDICTIONS: dict[str, tuple[object, bool]] = {}
_REVEALED: set[str] = set()


def _plain(text) -> str:
    return " ".join(str(text).lower().replace("the ", "").split())


def predict(question: str, prediction, choices=None) -> None:
    """Record a student's prediction for ``question`` before the lesson shows the answer.

    Called in the predict-first cell, right after the variable is set (``prediction`` is its
    value; ``choices``, when given, the allowed answers, as in :func:`read_prediction`). Prints
    what was recorded. ``None`` (not answered yet) records nothing and does not fail, so that
    "Run All" goes on; the exercise's check then asks for it. A prediction made after
    :func:`reveal` ran for the question is recorded as made after the answer was shown.

    Examples
    --------
    >>> predict("doc-example", "higher", ("higher", "lower"))
    Prediction recorded before the answer is shown: 'higher'.
    >>> reveal("doc-example")
    >>> predict("doc-example", "lower", ("higher", "lower"))
    Recorded, but the answer to this prediction is already shown above: it no longer counts as made first.
    """
    if prediction is None or not str(prediction).strip():
        print(f"No prediction yet ({question}): write it, run this cell, then read on.")
        return
    if choices is not None:
        read_prediction(prediction, choices, "your prediction")
    after = question in _REVEALED
    _PREDICTIONS[question] = (prediction, after)
    if after:
        print("Recorded, but the answer to this prediction is already shown above: it no longer "
              "counts as made first.")
    else:
        print(f"Prediction recorded before the answer is shown: {prediction!r}.")


def reveal(question: str) -> None:
    """Mark that the answer to ``question``'s prediction is shown from here on (prints nothing).

    The first line of the cell whose output answers a predict-first question.
    """
    _REVEALED.add(question)


def recorded_prediction(question: str, prediction, name: str, choices=None):
    """The prediction ``name`` (value ``prediction``) for a check, made before the answer was shown.

    Raises :class:`ExerciseError` when it is missing, was never recorded with :func:`predict`
    (its cell was not run), was recorded only after the answer was shown, or differs from what
    was recorded (changed afterwards). With ``choices`` the prediction is read as
    :func:`read_prediction` does and the matching choice returned; otherwise it is returned as is.

    Examples
    --------
    >>> predict("doc-recorded", "Lower", ("higher", "lower"))
    Prediction recorded before the answer is shown: 'Lower'.
    >>> recorded_prediction("doc-recorded", "lower ", "prediction_4", ("higher", "lower"))
    'lower'
    >>> recorded_prediction("doc-recorded", "higher", "prediction_4", ("higher", "lower"))
    Traceback (most recent call last):
    ...
    simlab.lessons.checks.ExerciseError: prediction_4 is now 'higher' but 'Lower' was recorded ...
    """
    if prediction is None or not str(prediction).strip():
        raise ExerciseError(f"write your prediction in {name} first, in its cell before the answer is "
                            "shown, and run that cell")
    choice = read_prediction(prediction, choices, name) if choices is not None else prediction
    if question not in _PREDICTIONS:
        raise ExerciseError(f"{name} was never recorded: run its cell in the lesson (the one that "
                            "calls predict) before the cell that shows the answer")
    recorded, after = _PREDICTIONS[question]
    if after:
        raise ExerciseError(f"{name} was recorded after the answer was shown: restart the kernel and "
                            "run the lesson from the top, with your prediction written first")
    if _plain(recorded) != _plain(prediction):
        raise ExerciseError(f"{name} is now {prediction!r} but {recorded!r} was recorded before the "
                            "answer was shown: a prediction is what you expected before you saw the "
                            "result; set it back")
    return choice


def verdict(prediction: str, truth: str) -> str:
    """``"Your prediction (...) was right."`` or ``"... was not right."``, the one wording of every check."""
    return f"Your prediction ({prediction}) was {'right' if prediction == truth else 'not right'}."


def report_prediction(measured: str, prediction: str, truth: str, why: str = "") -> None:
    """Print the verdict of a predict-first check whose computation was right.

    ``measured`` says what was computed, ``truth`` is what the student should have predicted and
    ``why`` (optional) the reason. Only a right prediction earns ``Correct:``; a wrong one never
    fails the check, and its verdict says that the computation was right and the prediction not.

    Examples
    --------
    >>> report_prediction("Recall 0.44 on noise.", "lower", "lower")
    Correct: Recall 0.44 on noise. Your prediction (lower) was right.
    >>> report_prediction("Recall 0.44 on noise.", "higher", "lower", "no neighbourhoods")
    Computed right: Recall 0.44 on noise. Your prediction (higher) was not right. Why: no neighbourhoods
    """
    message = f"{measured} {verdict(prediction, truth)}" + (f" Why: {why}" if why else "")
    if prediction == truth:
        correct(message)
    else:
        print(f"Computed right: {message}")


#: The sealed multiple-choice questions (package data, written by ``make key`` from the teacher's
#: ``notebooks/choices.toml``): per question id a salt, the hash of the right letter and each
#: option's reason encrypted with a key made from its letter. A check can tell whether a letter
#: is right and read the reason of the letter given; nothing in the package says which is right.
CHOICES: dict[str, dict] = json.loads(
    (Path(__file__).with_name("choices.json")).read_text(encoding="utf-8"))


def _letter_key(salt: str, question: str, letter: str) -> bytes:
    return hashlib.sha256(f"{salt}|{question}|{letter}".encode()).digest()


def _xor_stream(key: bytes, data: bytes) -> bytes:
    """``data`` XOR a SHA-256 counter-mode stream of ``key`` (its own inverse)."""
    blocks = range(len(data) // 32 + 1)
    stream = b"".join(hashlib.sha256(key + i.to_bytes(4, "big")).digest() for i in blocks)[:len(data)]
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def _right_hash(key: bytes) -> str:
    return hashlib.sha256(b"right|" + key).hexdigest()


def seal_choice(question: str, right: str, reasons: dict[str, str], *, salt: str | None = None) -> dict:
    """One multiple-choice question as :data:`CHOICES` stores it; the inverse of :func:`open_choice`.

    ``reasons`` maps each letter to why that option is right or wrong; ``right`` is one of them.
    ``salt`` (default: 16 random bytes in hex) makes the hashes differ between questions.

    Examples
    --------
    >>> sealed = seal_choice("q", "B", {"A": "no: ...", "B": "yes: ..."}, salt="00")
    >>> "yes" in str(sealed)
    False
    >>> open_choice("q", "B", sealed), open_choice("q", "A", sealed)
    ((True, 'yes: ...'), (False, 'no: ...'))
    """
    if right not in reasons:
        raise ValueError(f"{question}: the right letter {right!r} is not one of {', '.join(reasons)}")
    salt = secrets.token_hex(16) if salt is None else salt
    # Every reason padded to one length: a longer ciphertext must not point at the explained answer.
    width = max(len(reason.encode()) for reason in reasons.values())
    return {
        "salt": salt,
        "right": _right_hash(_letter_key(salt, question, right)),
        "options": {
            letter: _xor_stream(_letter_key(salt, question, letter),
                                reason.encode().ljust(width, b"\0")).hex()
            for letter, reason in reasons.items()
        },
    }


def open_choice(question: str, letter: str, sealed: dict | None = None) -> tuple[bool, str]:
    """Whether ``letter`` is the right answer to ``question``, and that option's reason.

    ``sealed`` defaults to the question's entry in :data:`CHOICES`. ``KeyError`` for an unknown
    question or a letter that is not one of its options.
    """
    sealed = CHOICES[question] if sealed is None else sealed
    key = _letter_key(sealed["salt"], question, letter)
    reason = _xor_stream(key, bytes.fromhex(sealed["options"][letter])).rstrip(b"\0").decode()
    return _right_hash(key) == sealed["right"], reason


def check_choice(question: str, answer) -> None:
    """Check a multiple-choice answer: ``answer`` is one letter, ``question`` an id of :data:`CHOICES`.

    Prints why the answer is right; raises :class:`ExerciseError` for anything but one of the
    question's letters, and for a wrong letter with why that option is wrong (not which one is
    right). ``KeyError`` for an unknown question id.
    """
    options = CHOICES[question]["options"]
    letter = str(answer).strip().strip("().").upper() if answer is not None else ""
    if letter not in options:
        raise ExerciseError(f"answer with one letter, one of {', '.join(options)}; got {answer!r}")
    right, reason = open_choice(question, letter)
    if not right:
        raise ExerciseError(f"{letter} is not it: {reason}")
    correct(f"{letter}: {reason}")


def require_answer(answer, what: str) -> None:
    """Raise :class:`ExerciseError` when ``answer`` is still ``None`` (the exercise is not done yet).

    ``what`` says what to give ("a list of 5 row numbers").

    Examples
    --------
    >>> require_answer([1, 2], "a list of row numbers")
    >>> require_answer(None, "a list of row numbers")
    Traceback (most recent call last):
    ...
    simlab.lessons.checks.ExerciseError: no answer yet: give a list of row numbers
    """
    if answer is None:
        raise ExerciseError(f"no answer yet: give {what}")


def read_number(answer, what: str, *, whole: bool = False) -> float:
    """A student's answer as a number, or an :class:`ExerciseError` saying what to write.

    ``what`` names the answer in the message ("the AUC", "the number of pairs"). An unanswered
    ``None``, text or an array of several values is refused; with ``whole=True`` so is a number
    with a fractional part (3.7 is not 3 pairs).

    Examples
    --------
    >>> read_number("0.5", "the AUC")
    0.5
    >>> read_number(3.7, "the number of pairs", whole=True)
    Traceback (most recent call last):
    ...
    simlab.lessons.checks.ExerciseError: the number of pairs is a whole number, got 3.7
    """
    if answer is None:
        raise ExerciseError(f"no answer yet: write {what} as one number")
    if getattr(answer, "size", None) == 1 or getattr(answer, "numel", lambda: 0)() == 1:
        answer = answer.item()  # a NumPy scalar, a one-element array or tensor
    if isinstance(answer, bool):
        raise ExerciseError(f"give {what} as one number, not {answer!r}")
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise ExerciseError(f"give {what} as one number, not {answer!r}") from None
    if math.isnan(value):
        raise ExerciseError(f"{what} is NaN: check your computation")
    if whole and value != int(value):
        raise ExerciseError(f"{what} is a whole number, got {value:g}")
    return value


def graded(lesson: str, check: str, *args, **kwargs) -> None:
    """Run the check ``check`` of ``simlab.lessons.<lesson>`` for a teacher's hidden test, silently.

    The hidden tests of the teacher's notebooks (``### BEGIN HIDDEN TESTS`` in a grade cell; the
    student edition has none) call it with the same arguments as the visible check. The check
    comes from a fresh import of its module, so a student's code that rebound ``check_...`` or
    patched it into the lesson's module earlier in the notebook does not change the grade; its
    printed verdict is swallowed (the visible check printed it already). Raises what the check
    raises: :class:`ExerciseError` for a wrong answer, so nbgrader gives the cell no points.
    """
    # Only the lesson's module is re-imported: ExerciseError stays the one class everyone catches.
    module = importlib.reload(importlib.import_module(f"{__package__}.{lesson}"))
    with contextlib.redirect_stdout(io.StringIO()):
        getattr(module, check)(*args, **kwargs)

"""What every lesson's exercise checks share: the error, the wording of a verdict, reading an answer.

A check prints ``Correct: ...`` for a right answer (and returns nothing), and raises
:class:`ExerciseError` (an ``AssertionError``, so that nbgrader counts it as a failed test; note
that ``python -O`` strips asserts, not raised exceptions) whose message says in plain words what
is wrong. Predict-first checks need the student's prediction (a missing one fails) and say whether
it was right (a wrong one never fails). Multiple-choice "why" questions go through
:func:`check_choice`.
"""

from __future__ import annotations

import math

__all__ = ["CHOICES", "ExerciseError", "check_choice", "correct", "read_number", "read_prediction",
           "require_answer", "verdict"]


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
    def plain(text) -> str:
        return " ".join(str(text).lower().replace("the ", "").split())

    if prediction is None or not str(prediction).strip():
        raise ExerciseError(f"write your prediction in {name} first, before you compute: one of "
                            f"{', '.join(map(repr, choices))}")
    for choice in choices:
        if plain(prediction) == plain(choice):
            return choice
    raise ExerciseError(f"{name} = {prediction!r} is not one of {', '.join(map(repr, choices))}")


def verdict(prediction: str, truth: str) -> str:
    """``"Your prediction (...) was right."`` or ``"... was not right."``, the one wording of every check."""
    return f"Your prediction ({prediction}) was {'right' if prediction == truth else 'not right'}."


CHOICES: dict[str, tuple[str, dict[str, str]]] = {
    "01-still-nearest": ("B", {
        "A": "the deep stages are not noise: they rank the near-duplicates best of all "
             "(precision@k, section 8), so their order is not chance",
        "B": "a nearest neighbour is the HIGHEST score among the others, not a score above a "
             "fixed bar: when every other file also moves further away, a low cosine can "
             "still come first",
        "C": "cosine ignores the lengths at every stage alike, and deep scores are not always "
             "lower (the near-duplicates score high at stage5); lengths do not decide a ranking",
        "D": "the ranking reads only the vectors; the labels of pairs.csv only grade it "
             "afterwards (and they call grass and gravel 'different')",
    }),
    "02-unit-euclidean": ("B", {
        "A": "the lengths differ a lot (section 2); after normalising they are all 1, whatever they were",
        "B": "on unit vectors |a-b|^2 = 2 - 2 cos: a larger cosine is always a smaller distance, so both "
             "put the pairs in the same order, and precision, recall and F1 depend only on that order.",
        "C": "best_threshold uses the scores as they are; it tries every score as a threshold",
        "D": "they are different formulas (cosine is a dot product of unit vectors); they agree only on "
             "unit vectors, and only in the order they give",
    }),
    "02-textures-first": ("B", {
        "A": "cosine, which compares what responded, does not put them first: they do not look like a cat",
        "B": "the textures' stage5 vectors are the shortest, and a short vector lies near the origin: "
             "near every other vector in raw distance, whatever its direction. Cosine ignores length.",
        "C": "Manhattan sums |a_i - b_i| over every channel, zeros included",
        "D": "the textures' stage5 vectors are the SHORTEST of all (section 2), not the longest",
    }),
    "03-fair-threshold": ("C", {
        "A": "the halves are about the same size (the people were dealt in two); a test is fair "
             "because of WHAT it was not tuned on, not because of how many pairs it has",
        "B": "pairs that share a person are not independent: with one man's photos in both halves, the "
             "held-out pairs would test the threshold on a face it was tuned on, and promise too much",
        "C": "a threshold judged on the pairs it was chosen on always looks better than it is; the "
             "held-out people played no part in choosing it, so their rates say what new people get.",
    }),
    "04-why-noise": ("C", {
        "A": "the vectors are normalised either way (build_index stores unit vectors), and cosine on "
             "unit vectors is what the exact search ranks by too",
        "B": "HNSW needs no training (only IVF runs k-means), and it found the neighbours of the "
             "clustered vectors with the same settings",
        "C": "in high-dimensional noise every vector is about as far from a query as every other: the "
             "true 10 nearest are barely nearer than thousands of others, so a graph walk (or a few "
             "IVF cells) has no neighbourhood to follow. Image embeddings cluster; noise does not.",
        "D": "the noise gallery here is no larger than the clustered one (fewer vectors, if anything), "
             "and a larger gallery would lower recall, not explain a collapse",
    }),
    "04-why-held-out": ("B", {
        "A": "the halves need not be the same size: split_pairs balances the near-duplicate "
             "pairs, and even so the halves differ in size",
        "B": "copies of one photo score alike: with the cat's crop in the tuning pairs and its mirror "
             "image in the held-out pairs, the threshold would be tested on a photo it was chosen on, "
             "and the held-out score would promise more than new photos give.",
        "C": "best_threshold works on any scores and labels; it knows nothing of the photos behind them",
        "D": "a FAISS index stores vectors, not photos, and holds the same vector twice without trouble; "
             "the split is about what the threshold has seen",
    }),
}


def check_choice(question: str, answer) -> None:
    """Check a multiple-choice answer: ``answer`` is one letter, ``question`` an id of :data:`CHOICES`.

    Prints why the right option is right; raises :class:`ExerciseError` for anything but one of
    the question's letters, and for a wrong letter with why that option is wrong (not which one is
    right). ``KeyError`` for an unknown question id.
    """
    right, options = CHOICES[question]
    letter = str(answer).strip().strip("().").upper() if answer is not None else ""
    if letter not in options:
        raise ExerciseError(f"answer with one letter, one of {', '.join(options)}; got {answer!r}")
    if letter != right:
        raise ExerciseError(f"{letter} is not it: {options[letter]}")
    correct(f"{right}: {options[right]}")


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

"""The course's own code: what the four lessons use and a library user never needs.

- :mod:`simlab.lessons.checks`: what every exercise check shares (the error, the verdict
  wording, reading an answer, the multiple-choice questions);
- :mod:`simlab.lessons.lesson01` ... :mod:`simlab.lessons.lesson04`: each lesson's checks and
  helpers, imported by that lesson as ``from simlab.lessons.lesson01 import ...``;
- :mod:`simlab.lessons.widgets`: the interactive explorers of lessons 01 and 02.

The kit's photos, pairs and masks are in :mod:`simlab.kit`; the library is the rest of ``simlab``.
"""

"""Seal the teacher's answer key of the multiple-choice questions into the package.

The teacher's file ``notebooks/choices.toml`` holds, per question id, the right letter and each
option's reason. It stays in the kit's checkout: the installed package and the student edition
carry only ``simlab/lessons/choices.json``, the same questions sealed by
:func:`simlab.lessons.checks.seal_choice` (salted hashes, reasons readable only with their own
letter). Run after editing the TOML (``make key`` does)::

    python -m simlab.teacher.answer_key [notebooks/choices.toml [simlab/lessons/choices.json]]

The teacher's notebooks answer each question with the same letter (``why_2 = "<letter>"`` in a solution
cell); running them, as ``make test`` does, fails when the two disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..lessons.checks import seal_choice

__all__ = ["read_answer_key", "seal_answer_key"]

ANSWER_KEY = Path("notebooks") / "choices.toml"
SEALED = Path(__file__).resolve().parents[1] / "lessons" / "choices.json"


def read_answer_key(path: str | Path = ANSWER_KEY) -> dict[str, tuple[str, dict[str, str]]]:
    """``{question id: (right letter, {letter: reason})}`` from the teacher's TOML file.

    Raises ``ValueError`` naming the file and question when an entry has no ``right`` letter,
    fewer than two options, or a right letter that is not one of its options.
    """
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # the maintainers' tool only: a student never runs it
    path = Path(path)
    with path.open("rb") as f:
        table = tomllib.load(f)
    key = {}
    for question, entry in table.items():
        reasons = {letter: text for letter, text in entry.items() if letter != "right"}
        right = entry.get("right")
        if len(reasons) < 2 or right not in reasons:
            raise ValueError(f"{path}: [{question}] needs `right = \"<letter>\"` naming one of at least "
                             f"two options; it has right={right!r} and options {sorted(reasons)}")
        key[question] = (right, reasons)
    return key


def seal_answer_key(source: str | Path = ANSWER_KEY, target: str | Path = SEALED) -> Path:
    """Write the sealed questions of ``source`` (TOML) to ``target`` (JSON, fresh salts); return it."""
    sealed = {question: seal_choice(question, right, reasons)
              for question, (right, reasons) in read_answer_key(source).items()}
    target = Path(target)
    target.write_text(json.dumps(sealed, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    print(f"wrote {seal_answer_key(*sys.argv[1:3])}")

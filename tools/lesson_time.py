"""How long a class needs for each section of a lesson: the estimate the teacher's guide quotes.

    python tools/lesson_time.py [NOTEBOOK ...]     (default: notebooks/0*.ipynb)

The rule, per section (a ``###`` heading of Practice, or a ``##`` part):
- reading: the markdown's words at 100 words a minute (careful reading of technical text with
  formulas, about half of a novel's pace);
- code: 1 minute per code cell to read it and run it, plus the cell's measured run time (from the
  committed run, ``make notebooks``, 2-core laptop CPU);
- exercises: 8 minutes an exercise, 15 for one on the student's own photos, 2 minutes a
  predict-first prediction in the body; the questionnaire 1.5 minutes a question.
It is a floor for a student working alone; a class with discussion needs more (the guide says
how much to add).
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def _seconds(cell) -> float:
    timing = cell.metadata.get("execution", {})
    try:
        start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except KeyError:
        return 0.0
    return (end - start).total_seconds()


def sections(path: Path) -> list[tuple[str, float, int, int, float]]:
    """Per section: (title, minutes, words, code cells, run seconds)."""
    nb = nbformat.read(path, as_version=4)
    rows, title, words, cells, run, extra = [], "start", 0, 0, 0.0, 0.0

    def close():
        if words or cells:
            minutes = words / 100 + cells + run / 60 + extra
            rows.append((title, round(minutes), words, cells, round(run)))

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            # a cell may hold several headings: each part counts for the section it is in
            for part in re.split(r"(?m)^(?=#{2,3}\s)", cell.source):
                heading = re.match(r"#{2,3}\s+(.+)$", part, re.M)
                if heading and heading.group(1).strip() != "Aim of this lesson":
                    close()
                    title, words, cells, run, extra = heading.group(1).strip(), 0, 0, 0.0, 0.0
                words += len(re.sub(r"```.*?```|\$[^$]*\$|<[^>]+>", " ", part, flags=re.S).split())
                exercises = re.findall(r"\*\*Exercise \d+[^*]*\*\*", part)
                extra += sum(15 if "own photo" in e else 8 for e in exercises)
                if title == "Questionnaire":
                    extra += 1.5 * len(re.findall(r"^\s*\d+\.\s", part, re.M))
        else:
            cells += 1
            run += _seconds(cell)
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if grade_id.endswith("-prediction"):
                extra += 2
    close()
    return rows


if __name__ == "__main__":
    for p in [Path(a) for a in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("0*.ipynb")):
        rows = sections(p)
        print(f"{p.name}: {sum(r[1] for r in rows)} min in all")
        for title, minutes, words, cells, run in rows:
            print(f"  {minutes:4d} min  {title}  ({words} words, {cells} code cells, {run} s run)")

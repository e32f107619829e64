"""The committed lessons as a reader gets them: small, without stderr or saved widget state, and
without prose that quotes a number none of the notebook's outputs shows.

nbval checks that the marked outputs still come out of the code; this file checks the other side,
that the sentences around them say what the outputs say. A measured number in a markdown cell
must appear in an output of the same notebook (``python tests/test_lesson_notebooks.py`` lists
every one that does not). Numbers that are definitions rather than measurements (224 pixels, the
0.6 threshold) are allowed by name below, with the reason.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
MAX_BYTES = 1_000_000

#: Constants a lesson may state without printing them: definitions, not measurements.
ALLOWED = {
    "224",  # the input side the backbones were trained with
    "0.6",  # dlib's published same-person distance threshold
    "255",  # the largest 8-bit pixel value
    "256",  # the short side ImageNet preprocessing resizes to, before the 224 crop
    "1000",  # ImageNet's classes
    "1.0", "0.0", "1.00", "0.00",  # the ends of a similarity scale
    "100", "10", "12", "16", "20", "32", "64", "128",  # round sizes and powers of two used as settings
}

#: Per lesson, the few more constants it explains (keep these short; a measurement never goes here).
ALLOWED_IN: dict[str, set[str]] = {
    "01_feature_extraction": {
        "112", "28",  # the theory's pyramid: stage sides for a 224 input (measured in section 2)
        "95",  # the intervals' coverage, a setting (95 %)
        "200",  # the estimated minutes for a student alone (tools/lesson_time.py), stated in the Aim
    },
    "02_similarity_metrics": {
        "90", "115",  # the estimated minutes for the lesson and the exercises (tools/lesson_time.py)
        "95",  # the intervals' coverage, a setting (95 %)
        "320", "82", "15",  # build_assets.py's edits: 320 px copies, crop ends at 82 % / 90 %, JPEG q15
        "45",  # Pillow's hopper_45.png: its maker turned it 45 degrees
    },
    "03_subject_similarity": {
        "170",  # the estimated time in minutes (tools/lesson_time.py)
        "95",  # the intervals' coverage, a setting (95 %)
        "0.29",  # the theory's example: Clopper-Pearson's lower bound for 3 of 3 (tests/test_evaluation.py)
        "0.5",  # the AUC of a coin toss, by definition
        "4.0",  # the London set's licence, CC BY 4.0
        "99.38",  # dlib's published LFW accuracy, quoted as the author's claim
        "150", "29",  # the face network's input crop (150 x 150) and depth (29 layers), by design
        "40",  # the smallest face the HOG detector finds with one upsampling, in pixels
        "0.04", "0.56", "0.64",  # dlib's loss_metric_: margin 0.04 around 0.6 (dlib/dnn/loss.h), by design
    },
    "04_photo_collection": {
        "82", "90",  # the scripted crop keeps 12-82 % of the width, 8-90 % of the height (build_assets.py)
        "2.2",  # the scripted colour copy's saturation factor (build_assets.py)
        "15",  # the scripted low-resolution copy's JPEG quality (build_assets.py)
        "320",  # every scripted copy is shrunk to at most 320 pixels a side (build_assets.py)
        "45",  # Pillow's hopper_45.png is Grace Hopper's portrait turned 45 degrees (ATTRIBUTION.md)
        "95",  # the intervals' coverage, a setting (95 %)
    },
}

# A number: digits with optional thousands separators and decimals. Numbers glued to a letter or an
# underscore before them (stage5, layer1, q15, x2), or to a word by a hyphen (ResNet-50, SHA-256),
# are names, not quantities.
NUMBER = re.compile(r"(?<![\w.])(?<!\w-)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")
# Stripped before looking for numbers: code, maths, links' targets, HTML tags, section numbers.
NOT_PROSE = [
    re.compile(r"```.*?```", re.S),
    re.compile(r"`[^`]*`"),
    re.compile(r"\$\$.*?\$\$", re.S),
    re.compile(r"\$[^$]*\$"),
    re.compile(r"\]\([^)]*\)"),
    re.compile(r"https?://\S+"),
    re.compile(r"<[^>]+>"),
    re.compile(r"^#+\s*[\d.]*", re.M),
    re.compile(r"^\s*\d+\.\s", re.M),  # the number of an item in a numbered list
    re.compile(r"\bsections? \d+(?:\s*(?:,|and|to|-)\s*\d+)*", re.I),  # "section 11", "sections 2 and 12"
    re.compile(r"\*\*Exercise \d+\.?\*\*"),
]


# "3 of 8", "2 out of 13": a count and its total, checked even when they are single digits.
COUNT_OF = re.compile(r"(?<![\w.])(\d+)\s+(?:of|out of)\s+(?:the\s+|its\s+|their\s+|all\s+)?"
                      r"(\d+)(?![\w.])")
# "about 20 ms", "roughly 0.7": a rounding, backed only by a measured value that rounds to it.
ABOUT = re.compile(r"\b(?:about|around|roughly|approximately|nearly|almost|some|~)\s+"
                   r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?", re.I)


def _canonical(whole: str, decimals: str | None) -> str:
    return whole.replace(",", "") + (decimals or "")


def _is_exempt(token: str) -> bool:
    if "." not in token:
        value = int(token)
        if value < 10 or 1900 <= value <= 2030:  # small counts and section numbers; years
            return True
    return token in ALLOWED


def _prose(markdown: str) -> str:
    """The markdown without code, maths, links, tags and numbering; "" for a references list."""
    if re.match(r"\s*#+\s*References", markdown):  # titles, years and pages of papers
        return ""  # (looked for before the headings' marks are stripped below)
    for pattern in NOT_PROSE:
        markdown = pattern.sub(" ", markdown)
    return markdown


def prose_numbers(markdown: str) -> list[str]:
    """The numbers a markdown cell quotes, canonical (no thousands separators), in order; roundings
    ("about 20") are left to :func:`prose_roundings`."""
    text = ABOUT.sub(" ", _prose(markdown))
    return [_canonical(m.group(1), m.group(2)) for m in NUMBER.finditer(text)]


def prose_counts(markdown: str) -> list[tuple[str, str]]:
    """The ``(count, total)`` pairs a markdown cell quotes as "3 of 8" or "3 out of 8"."""
    return COUNT_OF.findall(_prose(markdown))


def prose_roundings(markdown: str) -> list[str]:
    """The numbers a markdown cell gives as roundings: "about 20", "roughly 0.7", "~3"."""
    return [_canonical(m.group(1), m.group(2)) for m in ABOUT.finditer(_prose(markdown))]


def _output_texts(nb) -> list[str]:
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            found = [out.get("text", "")]
            found += [v for k, v in out.get("data", {}).items() if k.startswith("text/")]
            texts += ["".join(t) if isinstance(t, list) else t for t in found]
    return texts


def count_is_shown(count: str, total: str, texts: list[str]) -> bool:
    """Whether one output line shows both the count and its total (as "3/8", "3 of 8", a table row)."""
    for text in texts:
        for line in text.splitlines():
            numbers = [_canonical(m.group(1), m.group(2)) for m in NUMBER.finditer(line)]
            if count in numbers and total in numbers and (count != total or numbers.count(count) > 1
                                                          or f"{count}/{total}" in line):
                return True
    return False


def rounding_is_shown(rounded: str, texts: list[str]) -> bool:
    """Whether an output shows a value that rounds to ``rounded`` at its last significant digit
    ("about 20" backs 15 to 25, "about 0.7" 0.65 to 0.75, "about 40 %" also a fraction 0.36 to 0.44)."""
    digits = rounded.split(".")[1] if "." in rounded else ""
    if digits:
        half = 0.5 * 10 ** -len(digits)
    else:
        zeros = len(rounded) - len(rounded.rstrip("0")) if rounded.strip("0") else 0
        half = 0.5 * 10 ** zeros
    target = float(rounded)
    for text in texts:
        for m in NUMBER.finditer(text):
            value = float(_canonical(m.group(1), m.group(2)))
            for candidate in (value, value * 100 if value < 1 else None):
                if candidate is not None and abs(candidate - target) <= half + 1e-9:
                    return True
    return False


def output_numbers(nb) -> set[str]:
    """Every number in the notebook's text outputs, canonical, plus the same values rounded the way
    prose rounds them (0.961 also counts as 0.96 and 0.9; 18816 as 18,816)."""
    found = set()
    for text in _output_texts(nb):
        for m in NUMBER.finditer(text):
            found.add(_canonical(m.group(1), m.group(2)))
    rounded = set()
    for token in found:
        if "." in token:
            whole, decimals = token.split(".")
            for places in range(len(decimals)):
                rounded.add(f"{float(token):.{places}f}")
            # a percentage in prose of a fraction in the output: 0.19 -> 19 %
            if whole == "0" and len(decimals) >= 2:
                rounded.add(str(round(float(token) * 100)))
    return found | rounded


def unbacked_numbers(path: Path) -> list[tuple[int, str]]:
    """(cell index, number) for each number quoted in markdown that no output above it shows.

    "Above" is every code cell before the markdown cell and the code cells right after it (a
    sentence may introduce the output it quotes): a sentence cannot lean on a result the student
    has not seen yet, and a number that changed in its own output is caught even when it also
    appears later on. A count with its total ("3 of 8") needs an output line with both, single
    digits too (reported as "3 of 8"); a rounding ("about 20") needs a value that rounds to it
    (reported as "about 20"; the kit-wide ALLOWED constants do not excuse a rounding, a lesson's
    own ALLOWED_IN does).
    """
    nb = nbformat.read(path, as_version=4)
    allowed = ALLOWED_IN.get(path.stem, set())
    missing = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        end = i + 1
        while end < len(nb.cells) and nb.cells[end].cell_type == "code":
            end += 1
        above = nbformat.v4.new_notebook(cells=nb.cells[:end])
        shown, texts = output_numbers(above), _output_texts(above)
        missing += [(i, n) for n in prose_numbers(cell.source)
                    if n not in shown and n not in allowed and not _is_exempt(n)]
        missing += [(i, f"{n} of {m}") for n, m in prose_counts(cell.source)
                    if not count_is_shown(n, m, texts)]
        missing += [(i, f"about {n}") for n in prose_roundings(cell.source)
                    if n not in allowed and not rounding_is_shown(n, texts)]
    return missing


def test_there_are_four_lessons():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_prose_quotes_only_numbers_the_outputs_show(path):
    missing = unbacked_numbers(path)
    assert not missing, f"{path.name}: markdown quotes numbers no output shows (cell, number): {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_lesson_is_small_and_clean(path):
    size = path.stat().st_size
    assert size <= MAX_BYTES, f"{path.name} is {size / 1e6:.2f} MB; photos belong in JPEG figures"
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata, f"{path.name} carries saved widget state (make notebooks drops it)"
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "")[:200]
            assert out.get("name") != "stderr", f"{path.name} cell {i} shows stderr: {text!r}"
            assert out.get("output_type") != "error", f"{path.name} cell {i} ends in an error"


TEMPLATE = ["Aim of this lesson", "Theory", "Practice", "Discussion", "Key takeaways", "References",
            "Exercises", "Questionnaire"]
GUIDE = ROOT / "docs" / "teacher-guide.md"


def questionnaire(markdown: str) -> list[str]:
    """The numbered questions of the ``## Questionnaire`` section (to the next ``##`` heading)."""
    part = re.search(r"^## Questionnaire\s*$(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    return re.findall(r"^\s*\d+\.\s+(.+)$", part.group(1), re.M) if part else []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_ends_with_a_questionnaire_answered_in_the_guide(path):
    nb = nbformat.read(path, as_version=4)
    questions = questionnaire("\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))
    assert 8 <= len(questions) <= 12, f"{path.name}: {len(questions)} questions in its questionnaire"
    guide = GUIDE.read_text(encoding="utf-8")
    heading = f"### Lesson {path.stem[:2]}: the questionnaire's model answers"
    assert heading in guide, f"{GUIDE.name} has no section {heading!r}"
    part = guide.split(heading, 1)[1]
    part = re.split(r"^#{1,3} ", part, maxsplit=1, flags=re.M)[0]
    answers = re.findall(r"^\d+\.\s+\S", part, re.M)
    assert len(answers) == len(questions), f"{GUIDE.name}: {len(answers)} answers, {len(questions)} questions"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_follows_the_template(path):
    """The talktorial apparatus, in order; a setup cell apart; short code cells; the exercises
    include a prediction before running and one on the student's own photo."""
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    headings = [h.strip() for h in re.findall(r"^#{2}\s+(.+)$", markdown, re.M)]
    assert [h for h in headings if h in TEMPLATE] == TEMPLATE, f"{path.name}: sections {headings}"
    assert re.search(r"\*\*Contents\*\*|Contents:", markdown), f"{path.name} has no contents list"
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    setup = [s for s in code if 'InlineBackend.figure_formats = ["jpeg"]' in s]
    assert len(setup) == 1, f"{path.name}: one setup cell that stores figures as JPEG"
    for source in code:
        lines = [line for line in source.splitlines() if line.strip()]
        limit = 20 if source in setup else 15
        assert len(lines) <= limit, f"{path.name}: a code cell of {len(lines)} lines:\n{source[:200]}"
    exercises = markdown[markdown.index("## Exercises"):]
    assert re.search(r"predict", exercises, re.I), f"{path.name}: no predict-first exercise"
    assert re.search(r"your own photo", exercises, re.I), f"{path.name}: no exercise on your own photo"


def _tool(name: str):
    """The script ``tools/<name>.py`` imported as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_guide_states_each_lessons_time_as_tools_lesson_time_estimates_it():
    """The guide's "time alone" per lesson is tools/lesson_time.py's total on the committed run
    (within 5 minutes: the measured run time in it moves a little from run to run)."""
    lesson_time = _tool("lesson_time")
    table = GUIDE.read_text(encoding="utf-8")
    stated = dict(re.findall(r"^\| (0\d) \|[^|]+\| (\d+) min \|", table, re.M))
    for path in NOTEBOOKS:
        total = sum(minutes for _, minutes, *_ in lesson_time.sections(path))
        assert abs(int(stated[path.stem[:2]]) - total) <= 5, f"{path.name}: guide {stated}, tool {total}"


PREDICT_OR_REVEAL = re.compile(r"\b(predict|reveal)\(\s*\"([^\"]+)\"")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_prediction_is_recorded_before_the_cell_that_reveals_its_answer(path):
    """A predict-first question is answered in a student's cell (nbgrader solution cell) that
    calls ``predict``, and a LATER cell, the first to show the answer, calls ``reveal`` once."""
    nb = nbformat.read(path, as_version=4)
    predicted, revealed = {}, {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for call, question in PREDICT_OR_REVEAL.findall(cell.source):
            if call == "predict":
                assert cell.metadata.get("nbgrader", {}).get("solution"), \
                    f"{path.name} cell {i}: predict({question!r}) outside a student's answer cell"
                predicted[question] = i
            else:
                assert question not in revealed, f"{path.name}: {question!r} revealed twice"
                revealed[question] = i
    assert predicted, f"{path.name} records no prediction"
    assert set(predicted) == set(revealed), f"{path.name}: predicted {predicted}, revealed {revealed}"
    early = {q: (predicted[q], revealed[q]) for q in predicted if revealed[q] <= predicted[q]}
    assert not early, f"{path.name}: answers shown before the prediction (cells): {early}"


#: The fewest schematic figures (``tools/diagrams``) a lesson shows.
MIN_DIAGRAMS = 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_shows_its_diagrams_as_drawn_by_their_source(path):
    """Each lesson has its schematic figures, embedded as attachments that tools/draw_diagrams.py
    draws from code (re-drawing gives the same PNG), none missing, none left over."""
    draw = _tool("draw_diagrams")
    draws = draw.figures()
    nb = nbformat.read(path, as_version=4)
    shown = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        names = draw.REFERENCE.findall(cell.source)
        attached = set(cell.get("attachments", {}))
        assert attached == {f"{n}.png" for n in names}, f"{path.name} cell {i}: run make diagrams"
        for name in names:
            assert name in draws, f"{path.name} cell {i}: no source for the diagram {name!r}"
            png = base64.b64decode(cell["attachments"][f"{name}.png"]["image/png"])
            assert png == draw.png(draws[name]()), f"{path.name}: {name} is not its source's: make diagrams"
            shown.append(name)
    assert len(set(shown)) >= MIN_DIAGRAMS, f"{path.name} shows {len(set(shown))} diagrams: {shown}"


#: The most simlab names a lesson may introduce (names the lessons before it did not use).
NEW_NAMES_PER_LESSON = 12


def simlab_names(nb) -> tuple[list[str], list[str]]:
    """The simlab names a lesson's code imports, in order of first use, and the imports that break
    the one style (``from simlab.<module> import name``): ``import simlab...`` or ``simlab.x.y``.
    The exercise checks (``simlab.lessons.checks``, ``check_*``, the hidden tests' ``graded``)
    are the exercises' apparatus, not names to learn, and are not counted."""
    names, off_style = [], []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        source = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("simlab"):
                if node.module == "simlab.lessons.checks":
                    continue
                names += [a.name for a in node.names
                          if not a.name.startswith("check_") and a.name not in names]
            elif isinstance(node, ast.Import) and any(a.name.startswith("simlab") for a in node.names):
                off_style.append(ast.unparse(node))
            elif isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "simlab":
                off_style.append(ast.unparse(node))
    return names, off_style


def test_each_lesson_introduces_few_simlab_names_in_one_import_style():
    seen: set[str] = set()
    for path in NOTEBOOKS:
        names, off_style = simlab_names(nbformat.read(path, as_version=4))
        assert not off_style, f"{path.name}: use `from simlab.<module> import name`, not {off_style}"
        new = [n for n in names if n not in seen]
        assert len(new) <= NEW_NAMES_PER_LESSON, f"{path.name} introduces {len(new)} simlab names: {new}"
        seen |= set(names)


def test_the_checker_finds_a_stale_number(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## 3. Results\nThe cat scores 0.83 and 18,816 values; see `x = 0.5`."),
        nbformat.v4.new_code_cell("print(s)", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="score 0.8312, 18816 values\n")]),
        nbformat.v4.new_markdown_cell("But 19 % of 0.7 in 2016 said 224; stage5 and 7 things."),
        nbformat.v4.new_markdown_cell("## References\n- He et al. CVPR 2016, pp. 770-778. arXiv:1512.03385"),
        nbformat.v4.new_markdown_cell("## References\n- A. Author, *Title*, 2019 (arXiv:1702.08734), 33(1)."),
        nbformat.v4.new_markdown_cell("ResNet-50 and SHA-256 are names; the dog scores 0.64."),
        nbformat.v4.new_code_cell("print(dog)", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="dog 0.64, bird 0.31\n")]),
        nbformat.v4.new_markdown_cell("Above, the bird scored 0.31.\n\n"
                                      "11. A list item; see section 12 and sections 13 to 15."),
        nbformat.v4.new_markdown_cell("## Discussion\nThe cat: 0.83; the bird 0.31; the fish 0.27."),
        nbformat.v4.new_code_cell("print(fish)", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="fish 0.27\n")]),
    ])
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    # 19 and 0.7 are no output's; 0.31 is the output of a LATER cell when the cat is discussed
    assert unbacked_numbers(path) == [(2, "19"), (2, "0.7")]
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("Compare the bird, 0.31, with the cat."))
    nbformat.write(nb, path)
    assert unbacked_numbers(path) == [(0, "0.31"), (3, "19"), (3, "0.7")]
    assert prose_numbers("## References\n- A. Author (2018). Title. 10(8), 707-710. arXiv 1801.04381") == []


def test_the_checker_checks_counts_and_roundings(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(t)", outputs=[nbformat.v4.new_output(
            "stream", name="stdout",
            text="stage1 found 5/8, 30.7 ms per photo\nlinked 2 pairs, 13 copies\n")]),
        nbformat.v4.new_markdown_cell("Stage1 finds 5 of 8 copies, about 30 ms a photo, roughly 0.3 s."),
        nbformat.v4.new_markdown_cell("It finds 3 of 8; about 20 ms; only 2 of 13 are left out."),
        nbformat.v4.new_markdown_cell("About 3 in 10 and about 40 % of 0.4 s; 2 out of 13."),
    ])
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    # 5 of 8 is a row; 2 and 13 are on one line but not as a count of it: still shown together
    assert unbacked_numbers(path) == [(1, "about 0.3"), (2, "3 of 8"), (2, "about 20"), (3, "0.4"),
                                      (3, "about 3"), (3, "about 40")]
    assert rounding_is_shown("30", ["30.7 ms"]) and not rounding_is_shown("20", ["30.7 ms"])
    assert rounding_is_shown("40", ["share 0.42"]) and rounding_is_shown("0.7", ["0.73"])
    assert not count_is_shown("3", "8", ["3 pairs", "8 photos"])


if __name__ == "__main__":  # list what is stale and the simlab names, lesson by lesson
    seen_names: set[str] = set()
    for p in NOTEBOOKS if len(sys.argv) < 2 else [Path(a) for a in sys.argv[1:]]:
        print(p.name, "unbacked:", unbacked_numbers(p))
        lesson_names, off = simlab_names(nbformat.read(p, as_version=4))
        fresh = [n for n in lesson_names if n not in seen_names]
        seen_names |= set(lesson_names)
        print(f"  {len(fresh)} new simlab names: {fresh}\n  off-style imports: {off}")

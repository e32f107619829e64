"""The ``simlab`` command (also ``python -m simlab``)::

    simlab fetch [--quiet] [NAME ...]      fetch and verify weight files (default: mobilenet_v2)
    simlab list                            the known weight files, and whether each is cached
    simlab student [--keep] OUT_DIR [NOTEBOOK ...]
                                           the student edition of the lessons (default: the
                                           lessons in ./notebooks; needs nbgrader); --keep leaves
                                           notebooks already in OUT_DIR (a student's work) alone
    simlab course DIR [NOTEBOOK ...]       an nbgrader course of the lessons in DIR, for grading a
                                           class (needs nbgrader): nbgrader_config.py, source/,
                                           gradebook.db; then nbgrader's own commands in DIR
    simlab lab [--dir DIR] [--no-browser] [--dry-run]
                                           what `make lab` does, without make (Windows, macOS):
                                           check that the course extra is installed, fetch the
                                           lessons' weights, write the student edition of
                                           ./notebooks into DIR (default: student) with --keep,
                                           then start JupyterLab on DIR; --dry-run does all but
                                           the last and prints the JupyterLab command instead

Exit status: 0 on success, 1 when the work failed (the reason is printed on stderr), 2 for a
command line that is not understood.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

from ..extras import EXTRAS

__all__ = ["COURSE_MODULES", "COURSE_WEIGHTS", "main"]

#: The weight files the lessons use; ``simlab lab`` fetches them (the Makefile's FETCH line names
#: the same files for ``make setup``).
COURSE_WEIGHTS = ("mobilenet_v2", "selfie_segmentation", "face_detection_short_range",
                  "dlib_face_recognition", "dlib_face_landmarks_5")

#: What the lessons import beyond the core, as (module, the package that brings it, the extra of
#: pyproject.toml that installs it); ``simlab[course]`` installs them all.
COURSE_MODULES = (
    ("jupyterlab", "jupyterlab", "course"),
    ("ipywidgets", "ipywidgets", "course"),
    ("nbgrader", "nbgrader", "course"),
    *((module, package, extra) for module, (package, extra, _) in EXTRAS.items()),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simlab",
        description="The image-similarity course kit: weight files, the student edition, the lessons.",
    )
    commands = parser.add_subparsers(dest="command", metavar="{fetch,list,student,course,lab}")
    fetch = commands.add_parser("fetch", help="fetch and verify weight files (default: mobilenet_v2)")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="weight files, see `simlab list`")
    fetch.add_argument("--quiet", action="store_true", help="print nothing but errors")
    commands.add_parser("list", help="the known weight files, and whether each is cached")
    student = commands.add_parser(
        "student", help="write the student edition of the lessons (needs nbgrader)"
    )
    student.add_argument("out_dir", metavar="OUT_DIR", help="folder for the student notebooks")
    student.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                         help="source notebooks (default: notebooks/0*.ipynb in the current folder)")
    student.add_argument("--keep", action="store_true",
                         help="leave notebooks already in OUT_DIR unchanged (a student's work)")
    course = commands.add_parser(
        "course", help="write an nbgrader course of the lessons, for grading a class (needs nbgrader)",
        description="Write nbgrader_config.py, source/<lesson>/ (the teacher's notebooks) and "
        "gradebook.db into DIR; then run nbgrader's commands there (generate_assignment, "
        "zip_collect, autograde, generate_feedback, export). A course already in DIR is kept.")
    course.add_argument("folder", metavar="DIR", help="folder for the course (created if missing)")
    course.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                        help="source notebooks (default: notebooks/0*.ipynb in the current folder)")
    lab = commands.add_parser(
        "lab", help="open the lessons in JupyterLab, as `make lab` does (needs the course extra)",
        description="Check that the course extra is installed, fetch the lessons' weights, write "
        "the student edition of ./notebooks into DIR (a notebook already there, a student's work, "
        "is kept) and start JupyterLab on DIR.")
    lab.add_argument("--dir", default="student", metavar="DIR",
                     help="folder for the student edition and JupyterLab (default: student)")
    lab.add_argument("--no-browser", action="store_true",
                     help="start JupyterLab without opening a browser (it prints the address)")
    lab.add_argument("--dry-run", action="store_true",
                     help="do everything but start JupyterLab, and print its command instead")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``simlab`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Without a command it fetches MobileNetV2's weights, as ``simlab fetch`` does.
    """
    parser = _parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:  # argparse exits 2 on a bad command line and 0 after --help
        return int(e.code or 0)
    if args.command == "list":
        return _list()
    if args.command == "student":
        return _student(args.out_dir, args.notebooks, args.keep)
    if args.command == "course":
        return _course(args.folder, args.notebooks)
    if args.command == "lab":
        return _lab(Path(args.dir), no_browser=args.no_browser, dry_run=args.dry_run)
    return _fetch(getattr(args, "names", []), getattr(args, "quiet", False))


def _fetch(names: list[str], quiet: bool, print_paths: bool = True) -> int:
    from ..weights import WeightsError, fetch

    try:
        for name in names or ["mobilenet_v2"]:
            path = fetch(name, quiet=quiet)
            if print_paths and not quiet:
                print(path)
    except (WeightsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _list() -> int:
    from ..weights import KNOWN, cache_dir

    for wf in KNOWN.values():
        state = "cached" if (cache_dir() / wf.filename).is_file() else "missing"
        print(f"{wf.name:30} {wf.filename:44} {state}")
    return 0


def _written_by(command: str, write) -> list[Path] | None:
    """The files ``write()`` wrote (it needs nbgrader), or None after printing why it failed."""
    try:
        from .editions import EditionError

        written = write()
    except ImportError as e:
        print(f"error: simlab {command} needs nbgrader ({e}); install it with "
              "`pip install 'simlab[teacher]'` (in a checkout: `make test` installs it)", file=sys.stderr)
        return None
    except EditionError as e:
        print(f"error: {e}", file=sys.stderr)
        return None
    for path in written:
        print(f"wrote {path}")
    return written


def _student(out_dir: str, notebooks: list[str], keep: bool = False) -> int:
    def write():
        from .editions import write_student_edition

        return write_student_edition(out_dir, notebooks or None, keep_existing=keep)

    written = _written_by("student", write)
    if written is None:
        return 1
    if keep and not written:
        print(f"{out_dir}: every lesson is there already, kept as it is "
              "(delete a notebook to get a fresh copy)")
    return 0


def _course(folder: str, notebooks: list[str]) -> int:
    def write():
        from .course import write_course

        return write_course(folder, notebooks or None)

    written = _written_by("course", write)
    if written is None:
        return 1
    lesson = Path(written[1]).parent.name
    print(f"next, in {folder}: nbgrader generate_assignment {lesson}  (then release, collect, "
          "autograde, generate_feedback, export: see docs/teacher-guide.md)")
    return 0


def _missing_course_modules() -> list[tuple[str, str, str]]:
    """The entries of :data:`COURSE_MODULES` whose module cannot be found (found, not imported)."""
    missing = []
    for module, package, extra in COURSE_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or half-removed install
            found = False
        if not found:
            missing.append((module, package, extra))
    return missing


def _jupyter_command(folder: Path, no_browser: bool) -> list[str]:
    """``python -m jupyter lab FOLDER``, with --allow-root as root on POSIX (Jupyter refuses to
    run as root unless told; root is common in containers and classroom VMs)."""
    cmd = [sys.executable, "-m", "jupyter", "lab", str(folder)]
    if no_browser:
        cmd.append("--no-browser")
    if os.name == "posix" and hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def _lab(folder: Path, no_browser: bool = False, dry_run: bool = False) -> int:
    missing = _missing_course_modules()
    if missing:
        names = ", ".join(f"{package} (extra '{extra}')" for _, package, extra in missing)
        print(f"error: simlab lab needs the course extra; missing: {names}. Install it with\n"
              '    pip install "simlab[course]"\n'
              'or, in the kit\'s folder, with pip install -c constraints.txt -e ".[course]" '
              "(`make lab` does it); then run simlab lab again.", file=sys.stderr)
        return 1

    print(f"simlab lab: the lessons' weights ({', '.join(COURSE_WEIGHTS)})", flush=True)
    if _fetch(list(COURSE_WEIGHTS), quiet=False, print_paths=False):
        return 1

    from .editions import NOTEBOOKS, lesson_notebooks

    if not lesson_notebooks() and lesson_notebooks(folder):
        # Outside the kit's folder, with the student edition written before: open it as it is.
        print(f"simlab lab: no lessons in {NOTEBOOKS.resolve()}; opening {folder} as it is")
    else:
        print(f"simlab lab: the student edition in {folder} (a notebook already there is kept)")
        if _student(str(folder), [], keep=True):
            return 1

    cmd = _jupyter_command(folder, no_browser)
    shown = subprocess.list2cmdline(cmd) if os.name == "nt" else shlex.join(cmd)
    if dry_run:
        print("simlab lab: dry run, JupyterLab not started; its command:")
        print(shown)
        return 0
    print(f"simlab lab: starting JupyterLab on {folder} (stop it with Ctrl-C): {shown}", flush=True)
    try:
        process = subprocess.Popen(cmd)
    except OSError as e:
        print(f"error: cannot start JupyterLab ({shown}): {e}", file=sys.stderr)
        return 1
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:  # Jupyter gets Ctrl-C too, and asks whether to shut down
            continue
    if code != 0:
        print(f"error: JupyterLab exited with status {code}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

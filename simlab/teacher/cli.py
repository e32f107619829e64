"""The ``simlab`` command (also ``python -m simlab``)::

    simlab fetch [--quiet] [NAME ...]      fetch and verify weight files (default: mobilenet_v2)
    simlab list                            the known weight files, and whether each is cached
    simlab student [--keep] OUT_DIR [NOTEBOOK ...]
                                           the student edition of the lessons (default: the
                                           lessons in ./notebooks; needs nbgrader); --keep leaves
                                           notebooks already in OUT_DIR (a student's work) alone

Exit status: 0 on success, 1 when the work failed (the reason is printed on stderr), 2 for a
command line that is not understood.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simlab",
        description="The image-similarity course kit: weight files and the student edition.",
    )
    commands = parser.add_subparsers(dest="command", metavar="{fetch,list,student}")
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
    return _fetch(getattr(args, "names", []), getattr(args, "quiet", False))


def _fetch(names: list[str], quiet: bool) -> int:
    from .weights import WeightsError, fetch

    try:
        for name in names or ["mobilenet_v2"]:
            path = fetch(name, quiet=quiet)
            if not quiet:
                print(path)
    except (WeightsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _list() -> int:
    from .weights import KNOWN, cache_dir

    for wf in KNOWN.values():
        state = "cached" if (cache_dir() / wf.filename).is_file() else "missing"
        print(f"{wf.name:30} {wf.filename:44} {state}")
    return 0


def _student(out_dir: str, notebooks: list[str], keep: bool = False) -> int:
    try:
        from .editions import EditionError, write_student_edition

        written = write_student_edition(out_dir, notebooks or None, keep_existing=keep)
    except ImportError as e:
        print(f"error: simlab student needs nbgrader ({e}); install it with "
              "`pip install 'simlab[teacher]'` (in a checkout: `make test` installs it)", file=sys.stderr)
        return 1
    except EditionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    if keep and not written:
        print(f"{out_dir}: every lesson is there already, kept as it is "
              "(delete a notebook to get a fresh copy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

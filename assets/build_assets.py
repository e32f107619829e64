"""Build the kit's photos in assets/photos from images bundled with installed packages.

Run from the project root: ``python assets/build_assets.py``. It needs scikit-image,
scikit-learn and matplotlib (the ``dev`` extra) and no network. The results are committed;
assets/ATTRIBUTION.md gives the source and licence of each photo.
"""

from pathlib import Path

import numpy as np
from matplotlib import cbook
from PIL import Image
from skimage import data
from sklearn.datasets import load_sample_image

PHOTOS = Path(__file__).resolve().parent / "photos"

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


def main() -> None:
    PHOTOS.mkdir(exist_ok=True)
    for name, get in SOURCES.items():
        image = Image.fromarray(np.asarray(get())).convert("RGB")
        out = PHOTOS / f"{name}.jpg"
        image.save(out, quality=92)
        print(f"{out.relative_to(PHOTOS.parent.parent)}  {image.width}x{image.height}")


if __name__ == "__main__":
    main()

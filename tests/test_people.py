"""simlab.people: every face of an album (cached, in parallel, on a cluster), find a person, group people.

The album is made of the kit's real photos of people: Obama twice, Biden, Lisa, an astronaut crew
photo with two faces, a photo without a face, a two-person collage and a broken file.
"""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from PIL import Image

from simlab import people
from simlab.collection import UnreadableFilesWarning
from simlab.faces import detect_faces, face_embeddings, face_vectors
from simlab.kit import people_photos, samples
from simlab.people import album_faces, face_groups, find_person, group_people

PHOTOS = people_photos("whitehouse", "lisa", "astronauts")


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "album"
    (root / "2024").mkdir(parents=True)
    for name, target in [("obama", "obama.jpg"), ("obama2", "2024/obama2.jpg"), ("biden", "biden.jpg"),
                         ("lisa1", "2024/lisa1.jpg"), ("yury_usachev__1", "crew.jpg")]:
        shutil.copyfile(PHOTOS[name], root / target)
    shutil.copyfile(samples()["coffee"], root / "coffee.jpg")  # no face
    # Biden large on the left, Obama small on the right: a photo of two people
    collage = Image.new("RGB", (768, 512), "white")
    collage.paste(Image.open(PHOTOS["biden"]), (0, 0))
    collage.paste(Image.open(PHOTOS["obama3"]).resize((256, 256)), (512, 128))
    collage.save(root / "collage.jpg", quality=92)
    (root / "broken.jpg").write_text("not a photo")
    return root


def run(album, **options):
    """album_faces with the unreadable-files warning caught: (result, warning texts)."""
    options = {"cache_dir": None, "progress": False, **options}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = album_faces(album, **options)
    return result, [str(w.message) for w in caught if issubclass(w.category, UnreadableFilesWarning)]


def names(paths) -> list[str]:
    return [p.name for p in paths]


# --- every face of an album -----------------------------------------------------------------------


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_every_face_of_every_photo_with_its_box_and_vector(album):
    faces, warned = run(album)
    assert names(faces.paths) == ["lisa1.jpg", "obama2.jpg", "biden.jpg", "coffee.jpg",
                                  "collage.jpg", "crew.jpg", "obama.jpg"]
    assert faces.vectors.dtype == np.float32 and faces.vectors.shape == (len(faces.photo), 128)
    for i, path in enumerate(faces.paths):
        boxes, vectors = face_vectors(path)
        mine = faces.photo == i
        np.testing.assert_array_equal(faces.boxes[mine], boxes)
        np.testing.assert_allclose(faces.vectors[mine], vectors, atol=1e-6)
        assert [tuple(b) for b in faces.boxes[mine]] == detect_faces(path)  # largest first
    per_photo = {p.name: int((faces.photo == i).sum()) for i, p in enumerate(faces.paths)}
    assert per_photo == {"obama2.jpg": 1, "lisa1.jpg": 1, "biden.jpg": 1, "coffee.jpg": 0, "collage.jpg": 2,
                         "crew.jpg": 2, "obama.jpg": 1}
    assert names(faces.without_face) == ["coffee.jpg"]
    largest = faces.largest()
    assert largest[names(faces.paths).index("coffee.jpg")] == -1
    np.testing.assert_allclose(faces.vectors[largest[names(faces.paths).index("obama.jpg")]],
                               face_embeddings(album / "obama.jpg")[0], atol=1e-6)
    assert [(p.name, "not an image file" in r) for p, r in faces.failed] == [("broken.jpg", True)]
    assert len(warned) == 1 and "broken.jpg" in warned[0]
    assert (faces.computed, faces.from_cache) == (7, 0)
    assert "7 photos, 8 faces (1 photos without a face" in faces.summary()


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_worker_processes_find_the_same_faces(album):
    here, _ = run(album, num_workers=0)
    workers, _ = run(album, num_workers=2, batch_size=2)
    assert workers.paths == here.paths and workers.failed == here.failed
    np.testing.assert_array_equal(workers.photo, here.photo)
    np.testing.assert_array_equal(workers.boxes, here.boxes)
    np.testing.assert_array_equal(workers.vectors, here.vectors)


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_the_cache_finds_photos_again_by_content(album, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first, _ = run(album, cache_dir=cache)
    (album / "obama.jpg").rename(album / "renamed.jpg")

    search = people._faces_of

    def only_the_broken_file(path, *options):  # files that failed are tried again; no other
        assert path.name == "broken.jpg", f"{path.name}: cached, yet searched again"
        return search(path, *options)

    monkeypatch.setattr(people, "_faces_of", only_the_broken_file)
    again, warned = run(album, cache_dir=cache)
    assert (again.computed, again.from_cache) == (0, 7)  # the photo without a face is cached too
    assert names(again.paths)[-1] == "renamed.jpg" and len(warned) == 1  # the broken file: tried again
    order = [names(first.paths).index(n if n != "renamed.jpg" else "obama.jpg") for n in names(again.paths)]
    expected = np.concatenate([first.vectors[first.photo == i] for i in order])
    np.testing.assert_array_equal(again.vectors, expected)
    assert again.cache_dir.parent == cache and (again.cache_dir / "config.json").is_file()
    monkeypatch.undo()
    other, _ = run(album, cache_dir=cache, upsample=0)  # another setting: another cache folder
    assert other.computed == 7 and other.cache_dir != again.cache_dir


@pytest.mark.parametrize("options, error, match", [
    ({"upsample": -1}, ValueError, "upsample"),
    ({"detect_side": 0}, ValueError, "detect_side"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"num_workers": -1}, ValueError, "num_workers"),
    ({"client": "tcp://localhost:8786"}, TypeError, "dask.distributed.Client"),
])
def test_bad_options_are_refused_before_any_work(album, options, error, match):
    with pytest.raises(error, match=match):
        album_faces(album, **options)


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no image files"):
        album_faces(tmp_path)


# --- find a person ------------------------------------------------------------------------------------


@pytest.mark.slow  # seconds: make test runs it, make check does not
def test_find_person_ranks_photos_by_their_closest_face(album):
    with pytest.warns(UnreadableFilesWarning, match="broken.jpg"):
        ranked = find_person(PHOTOS["obama3"], album, cache_dir=None, progress=False)
    assert [p.name for p, _ in ranked][:3] == ["collage.jpg", "obama.jpg", "obama2.jpg"]  # collage: obama3
    distances = [d for _, d in ranked]
    assert distances == sorted(distances) and distances[2] < 0.6 < distances[3]
    assert "coffee.jpg" not in [p.name for p, _ in ranked]  # no face, no distance
    # the collage ranks by its SMALL face: every face counts, not only the largest
    small = face_vectors(album / "collage.jpg")[1][1]
    obama3 = face_embeddings(PHOTOS["obama3"])[0]
    assert distances[0] == pytest.approx(float(np.linalg.norm(small - obama3)), abs=1e-5)
    (album / "broken.jpg").unlink()
    close = find_person(PHOTOS["obama3"], album, max_distance=0.6, cache_dir=None, progress=False)
    assert close == ranked[:3]


def test_find_person_in_a_photo_without_a_face_names_it(album):
    with pytest.raises(ValueError, match=r"coffee\.jpg: no face found"):
        find_person(album / "coffee.jpg", album, cache_dir=None, progress=False)


# --- group people ----------------------------------------------------------------------------------


def test_group_people_puts_a_two_person_photo_in_two_groups(album):
    with pytest.warns(UnreadableFilesWarning, match="broken.jpg"):
        groups = [[p.name for p in g] for g in group_people(album, cache_dir=None, progress=False)]
    assert groups[0] == ["obama2.jpg", "collage.jpg", "obama.jpg"]  # largest first, album order
    assert ["biden.jpg", "collage.jpg"] in groups
    assert ["lisa1.jpg"] in groups  # a person seen once is a group of one
    assert sum("crew.jpg" in g for g in groups) == 2  # Yury Usachev and his neighbour
    assert not any("coffee.jpg" in g for g in groups)
    assert [len(g) for g in groups] == sorted((len(g) for g in groups), reverse=True)


def test_face_groups_are_repeatable_and_checked():
    vectors = face_embeddings([PHOTOS[n] for n in ["obama", "obama2", "biden", "obama3", "lisa1", "lisa2"]])
    labels = face_groups(vectors)
    assert labels.tolist() == face_groups(vectors).tolist()
    assert labels[0] == labels[1] == labels[3] != labels[2] and labels[4] == labels[5] != labels[0]
    assert len(set(face_groups(vectors, threshold=0.01).tolist())) == 6  # nothing is that close
    assert face_groups(np.zeros((0, 128))).shape == (0,)
    with pytest.raises(ValueError, match="shape"):
        face_groups(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="positive"):
        face_groups(vectors, threshold=0)


# --- on a Dask cluster -----------------------------------------------------------------------------


@pytest.mark.slow  # a Dask cluster
def test_a_cluster_finds_the_same_faces_into_the_same_cache(album, tmp_path, capsys):
    from dask.distributed import Client, LocalCluster

    local, local_warned = run(album, cache_dir=tmp_path / "a")
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
    with Client(cluster) as c:
        remote, remote_warned = run(album, cache_dir=tmp_path / "b", client=c, batch_size=3, progress=True)
        c.cluster.close()
    assert "finding faces on 2 Dask workers" in capsys.readouterr().err
    assert remote.paths == local.paths and remote.failed == local.failed and remote_warned == local_warned
    np.testing.assert_array_equal(remote.photo, local.photo)
    np.testing.assert_allclose(remote.vectors, local.vectors, atol=1e-6)
    assert remote.cache_dir.name == local.cache_dir.name
    again, _ = run(album, cache_dir=tmp_path / "b")
    assert (again.computed, again.from_cache) == (0, 7)

"""Figures: the right number of panels, titles that say what is shown, clear errors."""

import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba

from simlab import load_backbone
from simlab.kit import samples
from simlab.plots import show_precision_recall, show_similarity_matrix, show_stage_curves
from simlab.viz import show_feature_maps, show_images, show_retrieval, tensor_to_image


def test_feature_map_grid_labels_channels_and_shape():
    fmap = torch.rand(24, 56, 56)
    fig = show_feature_maps(fmap, channels=[3, 0, 7], title="stage2", ncols=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["ch 3", "ch 0", "ch 7"]
    assert fig._suptitle.get_text() == "stage2  24 channels x 56 x 56"


def test_feature_map_grid_defaults_to_two_rows():
    fig = show_feature_maps(torch.rand(1, 40, 7, 7), ncols=8)
    assert len([ax for ax in fig.axes if ax.images]) == 16


def test_feature_map_grid_refuses_missing_channels_and_bad_shapes():
    with pytest.raises(ValueError,
                       match=r"channels \[16\] do not exist: this map has channels 0..15"):
        show_feature_maps(torch.rand(16, 4, 4), channels=[1, 16])
    with pytest.raises(ValueError, match="Tensor\\[C, H, W\\]"):
        show_feature_maps(torch.rand(4, 4))


def test_tensor_to_image_undoes_normalisation():
    backbone = load_backbone("mobilenet_v2", weights=None)
    photo = samples()["coffee"]
    pixels = tensor_to_image(backbone.preprocess(photo))
    assert pixels.shape == (224, 224, 3)
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0
    assert 0.2 < pixels.mean() < 0.8  # a real photo, not a normalised tensor around 0


def test_show_images_accepts_paths_arrays_and_dicts():
    photos = samples()
    fig = show_images({"cat": photos["chelsea"], "noise": np.random.rand(8, 8, 3)})
    assert [ax.get_title() for ax in fig.axes] == ["cat", "noise"]


# --- similarity matrix --------------------------------------------------------------------------

S3 = np.array([[1.0, 0.25, 0.5], [0.25, 1.0, 0.125], [0.5, 0.125, 1.0]])


def _heatmap(fig):
    """The matrix axes (the one holding the image) and its colourbar axes."""
    ax = next(a for a in fig.axes if a.images)
    bar = next(a for a in fig.axes if a is not ax)
    return ax, bar


def test_similarity_matrix_labels_both_axes_and_writes_every_cell():
    fig = show_similarity_matrix(S3, ["cat", "cup", "bike"], title="stage5")
    ax, bar = _heatmap(fig)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "cup", "bike"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "cup", "bike"]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in ax.texts}
    assert cells == {(i, j): f"{S3[i, j]:.2f}" for i in range(3) for j in range(3)}
    assert cells[(0, 2)] == "0.50" and cells[(1, 2)] == "0.12"
    assert ax.get_title() == "stage5"
    assert bar.get_ylabel() == "cosine similarity (higher = more alike)"
    np.testing.assert_array_equal(ax.images[0].get_array(), S3)


def test_similarity_matrix_cell_text_stays_readable_on_dark_and_bright_cells():
    fig = show_similarity_matrix(S3, ["a", "b", "c"])
    ax, _ = _heatmap(fig)
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert colours["1.00"] == "black"  # brightest yellow cell
    assert colours["0.12"] == "white"  # darkest purple cell


def test_distance_matrix_uses_reversed_colours_so_alike_looks_the_same():
    D = np.array([[0.0, 3.0, 2.0], [3.0, 0.0, 4.0], [2.0, 4.0, 0.0]])
    sim_ax, _ = _heatmap(show_similarity_matrix(S3, list("abc")))
    dist_ax, bar = _heatmap(show_similarity_matrix(D, list("abc"), metric="euclidean"))
    sim, dist = sim_ax.images[0], dist_ax.images[0]
    # The most alike cell (highest similarity, smallest distance) has the same colour in both,
    # and so does the least alike one.
    assert to_rgba(sim.cmap(sim.norm(S3.max()))) == to_rgba(dist.cmap(dist.norm(D.min())))
    assert to_rgba(sim.cmap(sim.norm(S3.min()))) == to_rgba(dist.cmap(dist.norm(D.max())))
    assert bar.get_ylabel() == "euclidean distance (lower = more alike)"
    assert dist_ax.get_title() == "euclidean distance"  # the default title names the metric


def test_large_matrix_has_no_cell_texts_but_all_labels():
    n = 17
    S = np.eye(n) + 0.1
    labels = [f"photo{i}" for i in range(n)]
    ax, _ = _heatmap(show_similarity_matrix(S, labels, metric="manhattan"))
    assert len(ax.texts) == 0
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    ax, _ = _heatmap(show_similarity_matrix(S[:16, :16], labels[:16]))
    assert len(ax.texts) == 16 * 16


def test_similarity_matrix_accepts_a_torch_tensor():
    ax, _ = _heatmap(show_similarity_matrix(torch.tensor(S3), ["a", "b", "c"]))
    assert len(ax.texts) == 9


def test_similarity_matrix_refuses_bad_shapes_labels_and_metrics():
    with pytest.raises(ValueError, match=r"square \(N, N\) matrix.*\(2, 3\)"):
        show_similarity_matrix(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="square"):
        show_similarity_matrix(np.zeros(4), ["a", "b"])
    with pytest.raises(ValueError, match="S is 3 x 3 but 2 labels were given"):
        show_similarity_matrix(S3, ["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        show_similarity_matrix(np.array([[1.0, np.nan], [np.nan, 1.0]]), ["a", "b"])
    with pytest.raises(ValueError, match="unknown metric 'jaccard'"):
        show_similarity_matrix(S3, ["a", "b", "c"], metric="jaccard")


# --- retrieval grid -------------------------------------------------------------------------------


def _photo(value):
    return np.full((6, 8, 3), value, dtype=np.uint8)


def test_retrieval_grid_has_a_row_per_query_and_titles_with_names_and_scores():
    photos = samples()
    queries = [photos["chelsea"], _photo(10)]
    neighbours = [[photos["coffee"], _photo(20), _photo(30)], [_photo(40), _photo(50), _photo(60)]]
    scores = np.array([[0.834, 0.5, 0.25], [0.9, 0.8, 0.7]])
    fig = show_retrieval(queries, neighbours, scores, query_titles=["chelsea", "dark"],
                         neighbour_titles=[["coffee", "a", "b"], ["c", "d", "e"]])
    assert len(fig.axes) == 2 * 4
    rows = [[ax.get_title() for ax in fig.axes[r * 4:(r + 1) * 4]] for r in range(2)]
    assert rows == [["query: chelsea", "coffee 0.83", "a 0.50", "b 0.25"],
                    ["query: dark", "c 0.90", "d 0.80", "e 0.70"]]
    # Each panel shows its own photo: the coffee panel holds the coffee photo's pixels.
    coffee = np.asarray(fig.axes[1].images[0].get_array())
    assert coffee.shape[:2] == (400, 600)
    assert fig.axes[4].images[0].get_array().shape == (6, 8, 3)


def test_retrieval_without_names_titles_scores_and_takes_one_query_unwrapped():
    fig = show_retrieval(_photo(0), [_photo(1), _photo(2)], [12.345, 20.0])
    assert [ax.get_title() for ax in fig.axes] == ["query", "12.35", "20.00"]


def test_retrieval_accepts_top_k_output():
    from simlab.metrics import top_k

    X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    idx, scores = top_k(X[:1], X, k=2)
    images = [_photo(v) for v in (0, 100, 200)]
    fig = show_retrieval([images[0]], [[images[j] for j in idx[0]]], scores,
                         query_titles=["a"], neighbour_titles=[["abc"[j] for j in idx[0]]])
    assert [ax.get_title() for ax in fig.axes] == ["query: a", "a 1.00", "b 0.99"]


def test_retrieval_refuses_counts_that_disagree():
    with pytest.raises(ValueError, match="scores has 2 rows.*1 query images"):
        show_retrieval([_photo(0)], [[_photo(1)], [_photo(2)]], np.ones((2, 1)))
    with pytest.raises(ValueError, match="query 0 has 1 neighbour images but 2 scores"):
        show_retrieval([_photo(0)], [[_photo(1)]], np.ones((1, 2)))
    with pytest.raises(ValueError, match="neighbour_titles must hold 1 rows of 1 names"):
        show_retrieval([_photo(0)], [[_photo(1)]], np.ones((1, 1)), neighbour_titles=[["a", "b"]])
    with pytest.raises(ValueError, match="2 query titles for 1 queries"):
        show_retrieval([_photo(0)], [[_photo(1)]], np.ones((1, 1)), query_titles=["a", "b"])


# --- precision and recall against the threshold ------------------------------------------------


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_precision_recall_draws_both_curves_f1_and_the_chosen_threshold():
    t = [0.2, 0.4, 0.6, 0.8]
    p = [0.5, 0.6, 0.8, 1.0]
    r = [1.0, 0.9, 0.6, 0.2]
    fig = show_precision_recall(t, p, r, chosen=0.6, title="stage5 cosine")
    ax = fig.axes[0]
    lines = _lines(ax)
    assert set(lines) == {"precision", "recall", "F1", "threshold = 0.60"}
    np.testing.assert_allclose(lines["precision"].get_ydata(), p)
    np.testing.assert_allclose(lines["recall"].get_xdata(), t)
    f1 = [2 * a * b / (a + b) for a, b in zip(p, r, strict=True)]
    np.testing.assert_allclose(lines["F1"].get_ydata(), f1)
    np.testing.assert_allclose(lines["threshold = 0.60"].get_xdata(), [0.6, 0.6])
    assert "0.60" in [text.get_text() for text in ax.texts]  # the value written at the line
    assert [text.get_text() for text in ax.get_legend().get_texts()] == list(lines)
    assert ax.get_xlabel() == "threshold" and ax.get_title() == "stage5 cosine"


def test_precision_recall_without_a_chosen_threshold_has_no_line():
    fig = show_precision_recall([0.5, 0.1], [1.0, 0.5], [0.5, 1.0], xlabel="cosine threshold")
    ax = fig.axes[0]
    assert set(_lines(ax)) == {"precision", "recall", "F1"}
    assert ax.get_xlabel() == "cosine threshold"
    np.testing.assert_allclose(_lines(ax)["precision"].get_xdata(), [0.1, 0.5])  # sorted


def test_precision_recall_accepts_scikit_learn_output():
    from sklearn.metrics import precision_recall_curve

    p, r, t = precision_recall_curve([0, 0, 1, 1, 1], [0.1, 0.4, 0.35, 0.8, 0.9])
    ax = show_precision_recall(t, p, r).axes[0]
    np.testing.assert_allclose(_lines(ax)["precision"].get_ydata(), p[:-1][np.argsort(t)])


def test_precision_recall_refuses_lengths_that_differ_and_non_fractions():
    with pytest.raises(ValueError, match="same length, got 3, 2 and 3"):
        show_precision_recall([0.1, 0.2, 0.3], [0.5, 0.6], [1.0, 0.9, 0.8])
    with pytest.raises(ValueError, match=r"precision must lie in \[0, 1\]"):
        show_precision_recall([0.1, 0.2], [50, 60], [1.0, 0.9])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        show_precision_recall([], [], [])


# --- curves across stages -------------------------------------------------------------------------


def test_stage_curves_draw_one_line_per_pair_over_the_stage_names():
    curves = {"cat / cup": [0.9, 0.6, 0.3], "bike / bike": [0.95, 0.9, 0.97]}
    fig = show_stage_curves(curves, ["stage1", "stage2", "stage3"], title="depth")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["stage1", "stage2", "stage3"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cat / cup", "bike / bike"]
    lines = _lines(ax)
    np.testing.assert_allclose(lines["cat / cup"].get_ydata(), [0.9, 0.6, 0.3])
    assert lines["cat / cup"].get_marker() == "o"
    assert ax.get_ylabel() == "cosine similarity" and ax.get_title() == "depth"


def test_stage_curves_refuse_a_curve_of_the_wrong_length():
    with pytest.raises(ValueError, match="curve 'b' has 2 values but there are 3 stages"):
        show_stage_curves({"a": [1, 2, 3], "b": [1, 2]}, ["s1", "s2", "s3"], ylabel="distance")
    with pytest.raises(ValueError, match="no curves"):
        show_stage_curves({}, ["s1"])


def test_speed_recall_draws_one_line_per_index_and_the_exact_baselines():
    from simlab.plots import show_speed_recall

    curves = {"IVF": [("nprobe=1", 60000, 0.6), ("nprobe=8", 15000, 1.0)],
              "HNSW": [("ef=16", 40000, 0.88), ("ef=64", 17000, 0.98)]}
    fig = show_speed_recall(curves, {"FAISS": 3500, "top_k": 1300}, title="100k")
    ax = fig.axes[0]
    lines = _lines(ax)
    assert set(lines) == {"IVF", "HNSW", "FAISS (exact)", "top_k (exact)"}
    np.testing.assert_allclose(lines["IVF"].get_xdata(), [0.6, 1.0])  # recall on x
    np.testing.assert_allclose(lines["HNSW"].get_ydata(), [40000, 17000])  # speed on y
    np.testing.assert_allclose(lines["top_k (exact)"].get_ydata(), [1300, 1300])
    assert ax.get_yscale() == "log" and ax.get_title() == "100k"
    assert {"nprobe=1", "nprobe=8", "ef=16", "ef=64"} <= {text.get_text() for text in ax.texts}


def test_speed_recall_labels_do_not_overlap_each_other_or_the_points():
    from matplotlib.text import Text

    from simlab.plots import show_speed_recall

    # lesson 04's crowded corner: several settings near recall 1 at similar speeds
    curves = {"IVF": [("nprobe=1", 52000, 0.64), ("nprobe=2", 33000, 0.88), ("nprobe=4", 20500, 0.99),
                      ("nprobe=8", 11000, 1.0), ("nprobe=16", 5200, 1.0)],
              "HNSW": [("ef_search=16", 33500, 0.88), ("ef_search=32", 21500, 0.96),
                       ("ef_search=64", 13000, 0.98), ("ef_search=128", 8500, 0.99)]}
    fig = show_speed_recall(curves, {"FAISS": 2900, "top_k": 1200})
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]
    assert len(boxes) == 9
    for i, a in enumerate(boxes):
        assert all(not a.overlaps(b) for b in boxes[i + 1:]), ax.texts[i].get_text()
        frame = ax.get_window_extent(renderer)
        assert frame.contains(a.x0, a.y0) and frame.contains(a.x1, a.y1)
    points = np.vstack([ax.transData.transform(np.column_stack(line.get_data()))
                        for line in ax.get_lines()[:2]])
    for box, text in zip(boxes, ax.texts, strict=True):
        assert not any(box.contains(x, y) for x, y in points), text.get_text()


def test_speed_recall_refuses_impossible_points():
    from simlab.plots import show_speed_recall

    with pytest.raises(ValueError, match="empty"):
        show_speed_recall({})
    with pytest.raises(ValueError, match="no points"):
        show_speed_recall({"IVF": []})
    with pytest.raises(ValueError, match="recall in"):
        show_speed_recall({"IVF": [("nprobe=1", 100, 1.2)]})
    with pytest.raises(ValueError, match="> 0"):
        show_speed_recall({"IVF": [("nprobe=1", 0, 0.5)]})

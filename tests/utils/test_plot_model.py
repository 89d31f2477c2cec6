"""plot_model / model_to_dot: the graph Keras 3 draws, and clear errors without pydot or Graphviz."""

from __future__ import annotations

import os
import re
import shutil
import sys

import pytest

import kfit
from kfit.utils import model_to_dot, plot_model

os.environ.setdefault("KERAS_BACKEND", "torch")

_NAME = re.compile(r"<b>([^<]+)</b> \(([^)]+)\)")


def _functional(lib):
    x = lib.Input((3,), name="x")
    h = lib.layers.Dense(4, activation="relu", name="h")(x)
    side = lib.layers.Dense(4, name="side")(x)
    joined = lib.layers.Concatenate(name="cat")([h, side])
    y = lib.layers.Dense(1, name="y")(joined)
    return lib.Model(x, y + 1.0, name="g")


def _all_nodes(dot):
    return dot.get_nodes() + [node for sub in dot.get_subgraphs() for node in _all_nodes(sub)]


def _all_edges(dot):
    return dot.get_edges() + [edge for sub in dot.get_subgraphs() for edge in _all_edges(sub)]


def _drawn(dot, rename=None):
    """Boxes as (name, class) by node id, and edges as (source name, target name)."""
    boxes = {}
    for node in _all_nodes(dot):
        match = _NAME.search(node.get("label") or "")
        if match:
            name, cls = match.groups()
            # Ops are numbered by a global counter (add, add_1, ...): compare them by class.
            boxes[node.get_name().strip('"')] = (cls.lower() if rename and cls in rename else name, cls)
    edges = {(boxes[e.get_source()][0], boxes[e.get_destination()][0]) for e in _all_edges(dot)}
    return set(boxes.values()), edges


def test_functional_graph_has_a_box_per_layer_and_an_edge_per_connection():
    pytest.importorskip("pydot")
    boxes, edges = _drawn(model_to_dot(_functional(kfit)))
    names = {name for name, _ in boxes}
    assert {"x", "h", "side", "cat", "y"} <= names
    assert ("x", "InputLayer") in boxes and ("cat", "Concatenate") in boxes
    add = next(name for name, cls in boxes if cls == "Add")
    assert edges == {("x", "h"), ("x", "side"), ("h", "cat"), ("side", "cat"), ("cat", "y"), ("y", add)}


def test_graph_matches_keras():
    pytest.importorskip("pydot")
    keras = pytest.importorskip("keras")
    ours = _drawn(model_to_dot(_functional(kfit), show_shapes=True), rename={"Add"})
    theirs = _drawn(keras.utils.model_to_dot(_functional(keras), show_shapes=True), rename={"Add"})
    assert ours == theirs


def test_sequential_is_a_chain_and_options_show_in_the_boxes():
    pydot = pytest.importorskip("pydot")
    model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(4, activation="relu", name="a"),
                             kfit.layers.Dense(2, name="b", trainable=False)])
    dot = model_to_dot(model, show_shapes=True, show_dtype=True, show_layer_activations=True,
                       show_trainable=True, rankdir="LR", dpi=96)
    boxes, edges = _drawn(dot)
    assert boxes == {("a", "Dense"), ("b", "Dense")} and edges == {("a", "b")}
    labels = {_NAME.search(n.get("label")).group(1): n.get("label") for n in dot.get_nodes() if n.get("label")}
    assert "Input shape: <b>(None, 3)</b>" in labels["a"] and "Output shape: <b>(None, 4)</b>" in labels["a"]
    assert "Activation: <b>relu</b>" in labels["a"] and "Output dtype: <b>float32</b>" in labels["a"]
    assert "<b>Trainable</b>" in labels["a"] and "Non-trainable" in labels["b"]
    assert dot.get("rankdir") == "LR" and str(dot.get("dpi")) == "96"
    assert isinstance(dot, pydot.Dot)
    plain = model_to_dot(model, show_layer_names=False)
    assert all("(Dense)" not in (n.get("label") or "") for n in plain.get_nodes())


def test_nested_models_are_boxes_or_clusters():
    pytest.importorskip("pydot")
    inner = kfit.Sequential([kfit.Input((4,)), kfit.layers.Dense(3, name="i1"), kfit.layers.Dense(2, name="i2")],
                            name="inner")
    x = kfit.Input((4,), name="x")
    model = kfit.Model(x, kfit.layers.Dense(1, name="out")(inner(x)))
    boxes, edges = _drawn(model_to_dot(model))
    assert ("inner", "Sequential") in boxes and edges == {("x", "inner"), ("inner", "out")}
    dot = model_to_dot(model, expand_nested=True)
    assert [g.get_name().strip('"') for g in dot.get_subgraphs()] == ["cluster_inner"]
    boxes, edges = _drawn(dot)
    assert ("inner", "Sequential") not in boxes
    assert edges == {("x", "i1"), ("i1", "i2"), ("i2", "out")}
    cluster_boxes, _ = _drawn(dot.get_subgraphs()[0])
    assert cluster_boxes == {("i1", "Dense"), ("i2", "Dense")}


def test_subclassed_model_is_one_box_and_unbuilt_models_are_refused():
    pytest.importorskip("pydot")

    class Net(kfit.Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = kfit.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    boxes, edges = _drawn(model_to_dot(Net()))
    assert boxes == {("net", "Net")} and edges == set()
    with pytest.raises(ValueError, match="not built"):
        model_to_dot(kfit.Sequential([kfit.layers.Dense(1)]))
    with pytest.raises(ValueError, match="layer_range"):
        model_to_dot(Net(), layer_range=["a", "b"])
    with pytest.raises(ValueError, match="unknown keyword"):
        model_to_dot(Net(), colour="red")


def test_missing_pydot_names_the_package_and_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)  # makes `import pydot` fail
    model = kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(1)])
    with pytest.raises(ImportError, match=r"pip install pydot"):
        model_to_dot(model)
    with pytest.raises(ImportError, match=r"pip install pydot"):
        plot_model(model)


def test_missing_graphviz_names_the_program_and_the_fix(monkeypatch, tmp_path):
    pytest.importorskip("pydot")
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` program to be found
    target = tmp_path / "model.png"
    with pytest.raises(ImportError, match="Graphviz"):
        plot_model(kfit.Sequential([kfit.Input((3,)), kfit.layers.Dense(1)]), to_file=target)
    assert not target.exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` program is not installed")
def test_plot_model_writes_the_image(tmp_path):
    pytest.importorskip("pydot")
    png, svg = tmp_path / "model.png", tmp_path / "model.svg"
    plot_model(_functional(kfit), to_file=png, show_shapes=True)
    assert png.read_bytes().startswith(b"\x89PNG")
    plot_model(_functional(kfit), to_file=str(svg))
    assert b"<svg" in svg.read_bytes()

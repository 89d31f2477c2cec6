"""`kfit.utils.Config` side by side with Keras 3's `keras.utils.Config`."""

from __future__ import annotations

import copy
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import pytest

from kfit.utils import Config


def _both(**kwargs: object) -> tuple[Config, keras.utils.Config]:
    return Config(**kwargs), keras.utils.Config(**kwargs)


def test_attribute_and_item_access_match_keras() -> None:
    ours, theirs = _both(learning_rate=0.1, momentum=0.9)
    for config in (ours, theirs):
        config.use_ema = True
        config["seed"] = 123
    assert ours.as_dict() == theirs.as_dict() == {"learning_rate": 0.1, "momentum": 0.9, "use_ema": True,
                                                  "seed": 123}
    assert (ours.seed, ours["use_ema"], ours.get("missing", 5)) == (theirs.seed, theirs["use_ema"],
                                                                  theirs.get("missing", 5))
    assert len(ours) == len(theirs) == 4
    assert ("seed" in ours, "nope" in ours) == ("seed" in theirs, "nope" in theirs) == (True, False)
    assert repr(ours) == repr(theirs)


def test_iteration_is_sorted_and_views_keep_insertion_order_as_in_keras() -> None:
    ours, theirs = _both(zeta=1, alpha=2, mid=3)
    assert list(ours) == list(theirs) == ["alpha", "mid", "zeta"]
    assert list(ours.keys()) == list(theirs.keys()) == ["zeta", "alpha", "mid"]
    assert list(ours.values()) == list(theirs.values())
    assert list(ours.items()) == list(theirs.items())


def test_to_json_and_as_dict_match_keras() -> None:
    ours, theirs = _both(units=4, name="mlp", layers=[1, 2])
    assert ours.to_json() == theirs.to_json()
    assert json.loads(ours.to_json()) == {"units": 4, "name": "mlp", "layers": [1, 2]}
    copied = ours.as_dict()
    copied["units"] = 99
    assert ours.units == 4  # a copy, not the config's own dict
    with pytest.raises(TypeError):
        Config(fn=len).to_json()


def test_update_pop_and_delete_match_keras() -> None:
    ours, theirs = _both(a=1, b=2, c=3)
    for config in (ours, theirs):
        config.update({"d": 4}, e=5)
        del config["a"]
    assert ours.pop("b") == theirs.pop("b") == 2
    assert ours.pop("missing", "default") == theirs.pop("missing", "default") == "default"
    with pytest.raises(KeyError):
        ours.pop("missing")
    assert ours.as_dict() == theirs.as_dict() == {"c": 3, "d": 4, "e": 5}
    del ours.c
    assert "c" not in ours
    with pytest.raises(AttributeError):
        del ours.c


@pytest.mark.parametrize(
    "change",
    [
        lambda c: setattr(c, "foo", 1),
        lambda c: c.__setitem__("foo", 1),
        lambda c: c.__delitem__("a"),
        lambda c: c.update(foo=1),
        lambda c: c.pop("a"),
    ],
    ids=["setattr", "setitem", "delitem", "update", "pop"],
)
def test_frozen_config_refuses_every_change_as_keras_does(change) -> None:  # type: ignore[no-untyped-def]
    ours, theirs = _both(a=1)
    for config in (ours, theirs):
        config.freeze()
        assert config.frozen
        with pytest.raises(ValueError):
            change(config)
        assert config.as_dict() == {"a": 1}
    with pytest.raises(ValueError, match="unfreeze"):
        change(ours)


def test_unfreeze_allows_changes_again() -> None:
    ours, theirs = _both(a=1)
    for config in (ours, theirs):
        config.freeze()
        config.unfreeze()
        config.b = 2
        assert not config.frozen
    assert ours.as_dict() == theirs.as_dict() == {"a": 1, "b": 2}


def test_unknown_attribute_suggests_a_close_name() -> None:
    config = Config(learning_rate=0.1)
    with pytest.raises(AttributeError, match="Did you mean 'learning_rate'"):
        _ = config.learning_rat
    with pytest.raises(AttributeError, match=r"entries are \['learning_rate'\]"):
        _ = config.momentum
    assert not hasattr(config, "momentum")


def test_method_names_cannot_be_shadowed_by_attribute_setting() -> None:
    config = Config()
    with pytest.raises(AttributeError, match=r"config\['keys'\] = value"):
        config.keys = 3  # type: ignore[method-assign, assignment]
    config["keys"] = 3  # an entry of that name is still possible, as an item
    assert config["keys"] == 3 and list(config.keys()) == ["keys"]


def test_copies_keep_entries_and_frozen_state() -> None:
    config = Config(a=[1, 2], b="x")
    config.freeze()
    for clone in (copy.copy(config), copy.deepcopy(config)):
        assert clone.as_dict() == {"a": [1, 2], "b": "x"} and clone.frozen
    deep = copy.deepcopy(config)
    deep.unfreeze()
    deep.a.append(3)
    assert config.a == [1, 2]

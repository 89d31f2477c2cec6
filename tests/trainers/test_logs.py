"""BatchLogs: reads once, only on access, and then is a dict to every consumer."""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest

import kfit
from kfit.trainers import BatchLogs

VALUES = {"loss": 0.25, "mae": 0.5}


class Reads:
    """A `read` that counts its calls."""

    def __init__(self, values=VALUES):
        self.values, self.count = values, 0

    def __call__(self):
        self.count += 1
        return dict(self.values)


def _kwargs(**kwargs):
    return kwargs


def _update_into(logs):
    target = {}
    target.update(logs)
    return target


# Each consumer, and what it returns for VALUES.
CONSUMERS = {
    "dict()": (dict, VALUES),
    "{**logs}": (lambda logs: {**logs}, VALUES),
    "f(**logs)": (lambda logs: _kwargs(**logs), VALUES),
    "json.dumps": (json.dumps, '{"loss": 0.25, "mae": 0.5}'),
    "json.dumps sorted": (lambda logs: json.dumps(logs, sort_keys=True), '{"loss": 0.25, "mae": 0.5}'),
    "json.dumps separators": (lambda logs: json.dumps(logs, separators=(",", ":")), '{"loss":0.25,"mae":0.5}'),
    "json.dumps indent (Python encoder)": (
        lambda logs: json.dumps(logs, indent=1), '{\n "loss": 0.25,\n "mae": 0.5\n}'
    ),
    "list()": (list, ["loss", "mae"]),
    "sorted()": (sorted, ["loss", "mae"]),
    "reversed()": (lambda logs: list(reversed(logs)), ["mae", "loss"]),
    "len()": (len, 2),
    "bool()": (bool, True),
    "getitem": (lambda logs: logs["mae"], 0.5),
    "get": (lambda logs: logs.get("loss"), 0.25),
    "in": (lambda logs: "loss" in logs, True),
    "keys()": (lambda logs: list(logs.keys()), ["loss", "mae"]),
    "values()": (lambda logs: list(logs.values()), [0.25, 0.5]),
    "items()": (lambda logs: list(logs.items()), [("loss", 0.25), ("mae", 0.5)]),
    "repr()": (repr, "{'loss': 0.25, 'mae': 0.5}"),
    "str()": (str, "{'loss': 0.25, 'mae': 0.5}"),
    "f-string": (lambda logs: f"{logs}", "{'loss': 0.25, 'mae': 0.5}"),
    "==": (lambda logs: logs == VALUES, True),
    "== reflected": (lambda logs: logs == VALUES, True),
    "!=": (lambda logs: logs != VALUES, False),
    "copy()": (lambda logs: logs.copy(), VALUES),
    "copy.copy": (copy.copy, VALUES),
    "copy.deepcopy": (copy.deepcopy, VALUES),
    "pickle": (lambda logs: pickle.loads(pickle.dumps(logs)), VALUES),
    "|": (lambda logs: logs | {"x": 1}, {**VALUES, "x": 1}),
    "| reflected": (lambda logs: {"x": 1} | logs, {"x": 1, **VALUES}),
    "dict.update(logs)": (_update_into, VALUES),
    "format_map": (lambda logs: "{loss:.2f}".format_map(logs), "0.25"),
    "np.mean of values": (lambda logs: float(np.mean(list(logs.values()))), 0.375),
}

# Each write, and the dict it leaves.
WRITES = {
    "setitem": (lambda logs: logs.__setitem__("x", 1), {**VALUES, "x": 1}),
    "update": (lambda logs: logs.update(x=1), {**VALUES, "x": 1}),
    "|=": (lambda logs: logs.__ior__({"x": 1}), {**VALUES, "x": 1}),
    "setdefault": (lambda logs: logs.setdefault("loss", 9.0), VALUES),
    "pop": (lambda logs: logs.pop("mae"), {"loss": 0.25}),
    "popitem": (lambda logs: logs.popitem(), {"loss": 0.25}),
    "del": (lambda logs: logs.__delitem__("loss"), {"mae": 0.5}),
    "clear": (lambda logs: logs.clear(), {}),
}


def test_construction_reads_nothing_and_is_a_dict():
    read = Reads()
    logs = BatchLogs(read)
    assert isinstance(logs, dict) and read.count == 0


@pytest.mark.parametrize("name", sorted(CONSUMERS))
def test_every_consumer_sees_the_values_after_one_read(name):
    consume, expected = CONSUMERS[name]
    read = Reads()
    logs = BatchLogs(read)
    assert consume(logs) == expected
    assert read.count == 1
    assert consume(logs) == expected and dict(logs) == VALUES
    assert read.count == 1


@pytest.mark.parametrize("name", sorted(WRITES))
def test_writes_apply_on_top_of_the_read_values(name):
    write, expected = WRITES[name]
    read = Reads()
    logs = BatchLogs(read)
    write(logs)
    assert read.count == 1 and dict(logs) == expected and logs == expected


def test_copies_are_plain_dicts():
    logs = BatchLogs(Reads())
    for duplicate in (logs.copy(), dict(logs), copy.copy(logs), copy.deepcopy(logs),
                      pickle.loads(pickle.dumps(logs)), logs | {}):
        assert type(duplicate) is dict and duplicate == VALUES


def test_values_are_those_of_the_first_access():
    state = {"loss": 1.0}
    logs = BatchLogs(lambda: dict(state))
    assert logs["loss"] == 1.0
    state["loss"] = 2.0
    assert logs["loss"] == 1.0


def test_a_read_that_raises_is_retried_at_the_next_access():
    outcomes = [RuntimeError("device busy"), VALUES]

    def read():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    logs = BatchLogs(read)
    with pytest.raises(RuntimeError, match="device busy"):
        len(logs)
    assert logs == VALUES


def test_is_unhashable_like_a_dict():
    with pytest.raises(TypeError, match="unhashable"):
        hash(BatchLogs(Reads()))


def test_an_empty_read_is_an_empty_dict():
    logs = BatchLogs(dict)
    assert json.dumps(logs) == "{}" and not logs and dict(logs) == {}


def test_read_must_be_callable():
    with pytest.raises(TypeError, match=r"Received: read=\{'loss': 0.25\} \(of type dict\)"):
        BatchLogs({"loss": 0.25})


def test_fit_reads_batch_logs_only_for_hooks_that_look(host_reads):
    seen = []

    class Blind(kfit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(type(logs).__name__)

    class Looks(kfit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                seen.append(json.loads(json.dumps(logs)))

    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2, kernel_initializer="zeros")])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 2)), np.ones(8), batch_size=2, epochs=1, shuffle=False, verbose=0,
              callbacks=[Blind(), Looks()])
    assert seen.count("BatchLogs") == 4
    assert list(seen[2]) == ["loss"] and 0 < seen[2]["loss"] < 1  # zero weights: 1, then lower
    assert host_reads["n"] == 1 + 1  # batch 1's logs, then the epoch logs

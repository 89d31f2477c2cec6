import csv
import math
import re

import numpy as np
import pytest
import torch

import kfit
from kfit.callbacks import CSVLogger

X = np.random.RandomState(0).rand(10, 3).astype("float32")
Y = np.random.RandomState(1).rand(10, 1).astype("float32")
XV = np.random.RandomState(2).rand(10, 3).astype("float32")
YV = np.random.RandomState(3).rand(10, 1).astype("float32")



def _model():
    torch.manual_seed(1337)
    model = kfit.Sequential([kfit.layers.Dense(2, activation="relu"), kfit.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd", metrics=["mse"])
    return model


def _fit(model, callbacks, epochs=1, validation=True, **kwargs):
    if validation:
        kwargs.setdefault("validation_data", (XV, YV))
    return model.fit(X, Y, batch_size=4, epochs=epochs, verbose=0, callbacks=callbacks, **kwargs)


def _rows(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter=sep))


def test_keras_scenario_separator_append_and_reuse(tmp_path):
    path = tmp_path / "log.tsv"
    sep = "\t"
    # Case 1: a new file with the chosen separator.
    _fit(_model(), [CSVLogger(path, separator=sep)])
    with open(path) as f:
        assert csv.Sniffer().sniff(f.read()).delimiter == sep
    # Case 2: append to the existing file, without a second header.
    model = _model()
    cbks = [CSVLogger(path, separator=sep, append=True)]
    _fit(model, cbks)
    # Case 3: the same instance in another fit keeps appending.
    _fit(model, cbks, epochs=2)
    with open(path) as f:
        lines = f.readlines()
    assert len(lines) == 5
    assert all(line.count(sep) == 4 for line in lines)
    assert len(re.findall("epoch", " ".join(lines))) == 1


def test_val_columns_exist_from_the_start_with_na_where_validation_did_not_run(tmp_path):
    path = tmp_path / "log.csv"
    history = _fit(_model(), [CSVLogger(path)], epochs=5, validation_freq=3)
    rows = _rows(path)
    assert list(rows[0]) == ["epoch", "loss", "mse", "val_loss", "val_mse"]
    for index, row in enumerate(rows):
        assert row["epoch"] == str(index)  # 0-based, unlike ModelCheckpoint's {epoch}
        assert row["loss"] == str(history.history["loss"][index])
        if index == 2:
            assert row["val_loss"] == str(history.history["val_loss"][0])
            assert row["val_mse"] == str(history.history["val_mse"][0])
        else:
            assert row["val_loss"] == row["val_mse"] == "NA"


def test_no_val_columns_without_validation(tmp_path):
    path = tmp_path / "log.csv"
    _fit(_model(), [CSVLogger(path)], epochs=2, validation=False)
    assert list(_rows(path)[0]) == ["epoch", "loss", "mse"]


def test_keys_added_by_callbacks_get_no_val_column(tmp_path):
    path = tmp_path / "log.csv"

    class LogRate(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["learning_rate"] = 0.01

    _fit(_model(), [LogRate(), CSVLogger(path)], epochs=2, validation_freq=2)
    rows = _rows(path)
    assert list(rows[0]) == ["epoch", "learning_rate", "loss", "mse", "val_loss", "val_mse"]
    assert rows[0]["learning_rate"] == "0.01" and rows[0]["val_loss"] == "NA"
    assert rows[1]["val_loss"] != "NA"


def test_rows_are_flushed_every_epoch(tmp_path):
    path = tmp_path / "log.csv"
    seen = []

    class ReadBack(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(len(_rows(path)))

    _fit(_model(), [CSVLogger(path), ReadBack()], epochs=3)
    assert seen == [1, 2, 3]


def test_nan_is_written_as_nan(tmp_path):
    path = tmp_path / "log.csv"

    class Explode(kfit.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["loss"] = float("nan")

    history = _fit(_model(), [Explode(), CSVLogger(path)], epochs=1)
    assert math.isnan(history.history["loss"][0])
    with open(path) as f:
        rows = [row for row in csv.reader(f) if row]
    assert "nan" in rows[-1]


def test_append_creates_the_file_with_a_header_and_follows_existing_columns(tmp_path):
    path = tmp_path / "sub" / "log.csv"
    logger = CSVLogger(path, append=True)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"b": 2.0, "a": 1.0})
    logger.on_train_end()
    logger = CSVLogger(path, append=True)
    logger.on_train_begin()
    logger.on_epoch_end(7, {"a": 3.0, "c": 5.0})  # "b" missing, "c" new
    logger.on_train_end()
    # "c" is not dropped (Keras drops it): the header is extended and the old row padded.
    assert path.read_text().splitlines() == [
        "epoch,a,b,val_a,val_b,c", "0,1.0,2.0,NA,NA,NA", "7,3.0,NA,NA,NA,5.0"]


def test_without_fit_the_keras_rule_adds_val_columns(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.on_epoch_end(0, {"loss": 0.5})  # driven by hand, without on_train_begin
    logger.on_train_end()
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,0.5,NA"]


def test_values_are_formatted(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"vec": [1, 2], "arr": np.array([0.5, 1.5]), "scalar": np.array(3.0),
                            "note": "a b", "val_x": 1.0})
    logger.on_train_end()
    assert _rows(path) == [
        {"epoch": "0", "arr": "[0.5, 1.5]", "note": "a b", "scalar": "3.0", "val_x": "1.0", "vec": "[1, 2]"}]


def test_without_append_each_fit_starts_a_new_file(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    model = _model()
    _fit(model, [logger], epochs=2)
    _fit(model, [logger], epochs=1)
    assert len(_rows(path)) == 1


def test_initial_epoch_is_the_epoch_column(tmp_path):
    path = tmp_path / "log.csv"
    _fit(_model(), [CSVLogger(path)], epochs=3, initial_epoch=1)
    assert [row["epoch"] for row in _rows(path)] == ["1", "2"]


@pytest.mark.parametrize("separator", ["", ";;", None, 1])
def test_separator_must_be_one_character(separator):
    with pytest.raises(ValueError, match="single character"):
        CSVLogger("log.csv", separator=separator)


@pytest.mark.parametrize("filename", ["", None, 3])
def test_filename_is_checked(filename):
    with pytest.raises(ValueError, match="filename"):
        CSVLogger(filename)


def test_defaults_match_keras():
    logger = CSVLogger("log.csv")
    assert (logger.sep, logger.append) == (",", False)


def test_append_after_a_cut_last_line_starts_a_new_line(tmp_path):
    path = tmp_path / "log.csv"
    # A run killed while writing its third row: the file ends mid-line.
    path.write_bytes(b"epoch,loss\r\n0,0.5\r\n1,0.2")
    logger = CSVLogger(path, append=True)
    with pytest.warns(UserWarning, match="incomplete"):
        logger.on_train_begin()
    logger.on_epoch_end(1, {"loss": 0.25})
    logger.on_train_end()
    # The fragment keeps its own line; the new row is not glued to it.
    assert path.read_bytes() == b"epoch,loss\r\n0,0.5\r\n1,0.2\r\n1,0.25\r\n"
    assert [row["loss"] for row in _rows(path)] == ["0.5", "0.2", "0.25"]


def test_append_after_a_cut_line_end_completes_it(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes(b"epoch,loss\r\n0,0.5\r")  # cut between "\r" and "\n"
    logger = CSVLogger(path, append=True)
    with pytest.warns(UserWarning, match="incomplete"):
        logger.on_train_begin()
    logger.on_epoch_end(1, {"loss": 0.25})
    logger.on_train_end()
    assert path.read_bytes() == b"epoch,loss\r\n0,0.5\r\n1,0.25\r\n"


def test_append_keeps_a_file_with_unix_line_ends_consistent(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes(b"epoch,loss\n0,0.5")  # written by another tool, cut
    logger = CSVLogger(path, append=True)
    with pytest.warns(UserWarning, match="incomplete"):
        logger.on_train_begin()
    logger.on_epoch_end(1, {"loss": 0.25})
    logger.on_train_end()
    assert path.read_bytes().split(b"\n")[:3] == [b"epoch,loss", b"0,0.5", b"1,0.25\r"]


def test_a_complete_file_appends_without_a_warning(tmp_path, recwarn):
    path = tmp_path / "log.csv"
    path.write_bytes(b"epoch,loss\r\n0,0.5\r\n")
    logger = CSVLogger(path, append=True)
    logger.on_train_begin()
    logger.on_epoch_end(1, {"loss": 0.25})
    logger.on_train_end()
    assert not [w for w in recwarn if "incomplete" in str(w.message)]
    assert path.read_bytes() == b"epoch,loss\r\n0,0.5\r\n1,0.25\r\n"


def test_appending_new_columns_extends_the_header_atomically(tmp_path):
    path = tmp_path / "log.csv"
    _fit(_model(), [CSVLogger(path)], epochs=2, validation=False)
    before = _rows(path)
    model = _model()
    model.compile(loss="mse", optimizer="sgd", metrics=["mse", "mae"])
    _fit(model, [CSVLogger(path, append=True)], epochs=3, validation=False, initial_epoch=2)
    rows = _rows(path)
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    # The old columns keep their order; the new one comes last, NA in the old rows.
    assert header == ["epoch", "loss", "mse", "mae"]
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert [row["mae"] for row in rows[:2]] == ["NA", "NA"]
    assert [row["loss"] for row in rows[:2]] == [row["loss"] for row in before]
    assert float(rows[2]["mae"]) > 0
    # Rewritten through a temporary file: no leftovers beside the log.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]


def test_a_key_that_appears_in_a_later_epoch_gets_a_column(tmp_path):
    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.6})
    logger.on_epoch_end(1, {"loss": 0.4, "val_loss": 0.5, "learning_rate": 0.01})
    logger.on_epoch_end(2, {"loss": 0.3, "val_loss": 0.4})
    logger.on_train_end()
    assert path.read_text().splitlines() == [
        "epoch,loss,val_loss,learning_rate",
        "0,0.5,0.6,NA",
        "1,0.4,0.5,0.01",
        "2,0.3,0.4,NA",
    ]

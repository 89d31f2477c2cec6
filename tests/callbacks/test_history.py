"""History records epoch logs, and is what fit returns."""

from __future__ import annotations

import numpy as np

import kfit
from kfit.callbacks import History


def test_records_epochs_and_keys_that_appear_later():
    h = History()
    h.on_train_begin()
    h.on_epoch_end(0, {"loss": 3.0})
    h.on_epoch_end(1, {"loss": 2.0, "val_loss": 2.5})
    assert h.epoch == [0, 1]
    assert h.history == {"loss": [3.0, 2.0], "val_loss": [2.5]}


def test_user_history_reused_across_fits_accumulates_like_keras():
    h = History()
    model = kfit.Sequential([kfit.layers.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 2)), np.ones(4)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[h])
    returned = model.fit(x, y, epochs=1, verbose=0, callbacks=[h])
    assert returned is h and model.history is h
    assert h.epoch == [0]  # restarts per fit
    assert len(h.history["loss"]) == 3

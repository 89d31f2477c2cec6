"""The training script that tests/trainers/test_data_parallel.py runs under torchrun (and alone).

`python ddp_script.py MODE OUT_DIR` runs one scenario and writes `OUT_DIR/MODE-rank<r>.json`
with what the test compares: final weights, History, batch logs seen by callbacks, evaluation
and predictions. Run alone (no torchrun), it is the single-process reference.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

import kfit


def data(n: int = 41, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64") + (x[:, 2] > 1).astype("int64")
    return x, y


def build(seed: int, dropout: float = 0.0) -> kfit.Model:
    kfit.utils.set_random_seed(seed)
    layers = [kfit.Input((8,)), kfit.layers.Dense(16, activation="relu")]
    if dropout:
        layers.append(kfit.layers.Dropout(dropout))
    layers.append(kfit.layers.Dense(3))
    model = kfit.Sequential(layers)
    model.compile(
        optimizer=kfit.optimizers.Adam(1e-2),
        loss=kfit.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class BatchRecorder(kfit.callbacks.Callback):
    """Reads every train batch's logs (a collective in data-parallel training)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(float(logs["loss"]))


class StopOnRank(kfit.callbacks.Callback):
    """Asks to stop on one rank only, at an epoch end or after a batch."""

    def __init__(self, rank: int, epoch: int | None = None, batch: int | None = None) -> None:
        super().__init__()
        self.rank, self.epoch, self.batch = rank, epoch, batch
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batch is not None and self.model.distribute_rank == self.rank and self.batches == self.batch:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.epoch is not None and self.model.distribute_rank == self.rank and epoch == self.epoch:
            self.model.stop_training = True


def extras() -> dict:
    """EarlyStopping with restored weights, per-rank generators, BatchNorm, the progress bar."""
    x, y = data(48)
    results: dict = {}
    model = build(seed=3)
    stop = kfit.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    plateau = kfit.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=0, factor=0.5)
    history = model.fit(x, y, batch_size=8, epochs=6, validation_split=0.25, callbacks=[stop, plateau],
                        class_weight={0: 1.0, 1: 2.0, 2: 0.5}, verbose=0)
    results["early"] = {"epochs": history.epoch, "history": history.history, "weights": weights_of(model),
                        "lr": float(model.optimizer.learning_rate)}
    # A generator yields this rank's own shard of each batch.
    rank, world = kfit.distribution.get_rank(), kfit.distribution.get_world_size()

    def shard():
        for start in range(0, 48, 8):
            yield x[start : start + 8][rank::world], y[start : start + 8][rank::world]

    model = build(seed=3)
    model.fit(shard(), epochs=1, verbose=0)
    results["generator_weights"] = weights_of(model)
    kfit.utils.set_random_seed(4)
    model = kfit.Sequential([kfit.Input((8,)), kfit.layers.Dense(8), kfit.layers.BatchNormalization(),
                             kfit.layers.Dense(3)])
    model.compile(optimizer="adam", loss=kfit.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=8, epochs=2, verbose=2)  # one line per epoch, printed by rank 0
    results["batchnorm_weights"] = weights_of(model)
    return results


def weights_of(model: kfit.Model) -> list[list[float]]:
    return [w.ravel().tolist() for w in model.get_weights()]


def parity(out: str) -> dict:
    x, y = data()
    vx, vy = data(13, seed=1)
    results: dict = {}
    for shuffle in (False, True):
        model = build(seed=3)
        recorder = BatchRecorder()
        callbacks = [recorder]
        if not shuffle:
            callbacks += [
                kfit.callbacks.CSVLogger(os.path.join(out, "log.csv")),
                kfit.callbacks.ModelCheckpoint(os.path.join(out, "ckpt-{epoch}.weights.h5"), save_weights_only=True),
            ]
        history = model.fit(
            x, y, batch_size=8, epochs=3, shuffle=shuffle, validation_data=(vx, vy),
            callbacks=callbacks, verbose=0,
        )
        results[f"shuffle={shuffle}"] = {
            "weights": weights_of(model),
            "history": history.history,
            "batch_losses": recorder.seen,
            "evaluate": model.evaluate(vx, vy, batch_size=4, verbose=0, return_dict=True),
            "predict": model.predict(vx, batch_size=4, verbose=0).ravel().tolist(),
        }
    # A map-style Dataset: batch_size is the global batch, as for arrays.
    model = build(seed=3)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    history = model.fit(dataset, batch_size=8, epochs=3, shuffle=False, verbose=0)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(vx)), batch_size=4)
    results["dataset"] = {
        "weights": weights_of(model),
        "history": history.history,
        # A DataLoader is resharded round-robin; predict still returns the rows in order.
        "predict_loader": model.predict(loader, verbose=0).ravel().tolist(),
    }
    # The Keras guide's own train_step (gradients averaged in optimizer.apply), on batches
    # that split evenly (a custom step cannot weight an uneven share).
    kfit.utils.set_random_seed(3)
    model = GuideStep([kfit.Input((8,)), kfit.layers.Dense(16, activation="relu"), kfit.layers.Dense(3)])
    model.compile(optimizer=kfit.optimizers.Adam(1e-2),
                  loss=kfit.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x[:40], y[:40], batch_size=8, epochs=3, shuffle=False, verbose=0)
    results["custom_step"] = {"weights": weights_of(model), "history": history.history}
    return results


class GuideStep(kfit.Sequential):
    """The train_step of Keras's guide "Customizing what happens in fit() with PyTorch"."""

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = list(self.trainable_weights)
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def stopping(out: str) -> dict:
    x, y = data()
    results = {}
    model = build(seed=3)
    history = model.fit(x, y, batch_size=8, epochs=5, callbacks=[StopOnRank(1, epoch=1)], verbose=0)
    results["epoch_stop"] = {"epochs": history.epoch, "weights": weights_of(model)}
    model = build(seed=3)
    stopper = StopOnRank(1, batch=3)
    history = model.fit(x, y, batch_size=8, epochs=5, callbacks=[stopper], verbose=0)
    results["batch_stop"] = {"epochs": history.epoch, "batches": stopper.batches, "weights": weights_of(model)}
    return results


def loaders(out: str) -> dict:
    """A DataLoader resharded, a custom sampler refused, and the stopping cases (one launch)."""
    x, y = data()
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    results: dict = stopping(out)
    model = build(seed=3)
    counter = BatchRecorder()
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=True)
    model.fit(loader, epochs=2, callbacks=[counter], verbose=0)
    results["loader_steps"] = len(counter.seen)
    results["loader_weights"] = weights_of(model)
    results.update(extras())
    sampler = torch.utils.data.SubsetRandomSampler(list(range(20)))
    try:
        model.fit(torch.utils.data.DataLoader(dataset, batch_size=4, sampler=sampler), verbose=0)
        results["custom_sampler_error"] = None
    except ValueError as e:
        results["custom_sampler_error"] = str(e)
    return results


def resume(out: str) -> dict:
    x, y = data(64)
    model = build(seed=5, dropout=0.3)
    backup = kfit.callbacks.BackupAndRestore(os.path.join(out, "backup"), save_freq=2, delete_checkpoint=False)
    history = model.fit(
        x, y, batch_size=8, epochs=int(os.environ.get("KFIT_TEST_EPOCHS", "6")), shuffle=True,
        callbacks=[backup, kfit.callbacks.CSVLogger(os.path.join(out, "resume.csv"), append=True)], verbose=0,
    )
    return {"weights": weights_of(model), "history": history.history}


def main() -> None:
    mode, out = sys.argv[1], sys.argv[2]
    result = {"parity": parity, "loaders": loaders, "resume": resume}[mode](out)
    rank = kfit.distribution.get_rank()
    result["world_size"] = kfit.distribution.get_world_size()
    with open(os.path.join(out, f"{mode}-rank{rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()

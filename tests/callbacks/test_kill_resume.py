"""The promise of exact crash resume: SIGKILL a training script at random moments, rerun it
unchanged until it finishes, and get the same weights (bit for bit), History and CSV log as
a run that was never interrupted.

A child process trains two variants one after the other (a full pass per epoch, and
`steps_per_epoch` smaller than the data); a variant that finished saves its results and is
skipped by the reruns. `KFIT_TEST_BACKUP_DELAY` slows every backup write so that most kills
land inside one.
"""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

CHILD = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import kfit
    from kfit.callbacks import BackupAndRestore, CSVLogger, EarlyStopping, ReduceLROnPlateau

    out = sys.argv[1]


    class Trace(kfit.callbacks.Callback):
        # Records every batch trained, in a file and on stdout (for the parent to time its kill).
        def __init__(self, path):
            super().__init__()
            self.file = open(path, "a", buffering=1)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            self.file.write(f"{self.epoch} {batch}\\n")
            print("batch", flush=True)


    for name, steps in (("steps", 10), ("full", None)):
        folder = os.path.join(out, name)
        if os.path.exists(os.path.join(folder, "weights.npz")):
            continue
        print("variant", name, flush=True)
        os.makedirs(folder, exist_ok=True)
        kfit.utils.set_random_seed(0)
        rng = np.random.RandomState(0)
        x = rng.rand(480, 8).astype("float32")
        y = (x[:, :3].argmax(axis=1) + (rng.rand(480) < 0.2)).clip(0, 2)
        model = kfit.Sequential([
            kfit.layers.Dense(32, activation="relu", input_dim=8),
            kfit.layers.Dropout(0.3),
            kfit.layers.Dense(3),
        ])
        model.compile(optimizer=kfit.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(
            x, y, epochs=3, batch_size=16, shuffle=True, validation_split=0.2, verbose=0,
            steps_per_epoch=steps,
            callbacks=[
                BackupAndRestore(os.path.join(folder, "backup"), save_freq=3),
                EarlyStopping(patience=5),
                ReduceLROnPlateau(patience=1),
                CSVLogger(os.path.join(folder, "log.csv")),
                Trace(os.path.join(folder, "batches.txt")),
            ],
        )
        with open(os.path.join(folder, "history.json"), "w") as f:
            json.dump({"epoch": history.epoch, "history": history.history}, f)
        # Written last (atomically): its presence means this variant is done.
        np.savez(os.path.join(folder, "tmp.npz"), *model.get_weights())
        os.replace(os.path.join(folder, "tmp.npz"), os.path.join(folder, "weights.npz"))
    """
)


def _start(script, out, delay):
    env = dict(os.environ, KERAS_BACKEND="torch", KFIT_TEST_BACKUP_DELAY=str(delay))
    return subprocess.Popen(
        [sys.executable, str(script), str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, text=True,
    )


def _results(out, name):
    folder = out / name
    with np.load(folder / "weights.npz") as data:
        weights = [data[f"arr_{i}"] for i in range(len(data.files))]
    history = json.loads((folder / "history.json").read_text())
    batches = (folder / "batches.txt").read_text().splitlines()
    return weights, history, (folder / "log.csv").read_text(), batches


def test_sigkill_at_random_moments_then_rerun_gives_the_same_model(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(CHILD)
    reference = tmp_path / "reference"
    uninterrupted = _start(script, reference, delay=0)  # runs beside the killed ones

    killed = tmp_path / "killed"
    chooser = random.Random(1234)
    to_kill = {"steps": 3, "full": 2}  # kills per variant
    kills = kills_in_a_write = runs = 0
    while True:
        runs += 1
        assert runs < 40, "the killed run never finished"
        child = _start(script, killed, delay=0.01)
        variant, count, target = None, 0, chooser.randint(1, 8)
        while line := child.stdout.readline():
            if line.startswith("variant"):
                variant, count = line.split()[1], 0
            elif to_kill.get(variant, 0) and (count := count + 1) >= target:
                # A random few milliseconds after a random batch.
                time.sleep(chooser.uniform(0.0, 0.03))
                child.send_signal(signal.SIGKILL)
                break
        _, err = child.communicate(timeout=120)
        if child.returncode == -signal.SIGKILL:
            kills += 1
            to_kill[variant] -= 1
            backups = [killed / name / "backup" for name in ("full", "steps")]
            kills_in_a_write += any(
                entry.startswith(".kfit-tmp-") for b in backups if b.is_dir() for entry in os.listdir(b)
            )
            continue
        assert child.returncode == 0, err
        if (killed / "full" / "weights.npz").exists():
            break
    _, err = uninterrupted.communicate(timeout=120)
    assert uninterrupted.returncode == 0, err
    assert kills >= 5 and not any(to_kill.values())
    # The delay makes backup writes most of the run's time: some kill landed in one.
    assert kills_in_a_write >= 1

    for name in ("full", "steps"):
        ref_weights, ref_history, ref_csv, ref_batches = _results(reference, name)
        weights, history, csv, batches = _results(killed, name)
        assert all(np.array_equal(a, b) for a, b in zip(ref_weights, weights, strict=True)), name
        assert history == ref_history, name
        assert csv == ref_csv, name
        # Batches are redone only since the last backup (every 3 batches) of each kill.
        redone = len(batches) - len(ref_batches)
        print(f"{name}: {kills} kills ({kills_in_a_write} inside a backup write), {redone} batches redone")
        assert 0 <= redone <= 3 * kills, name

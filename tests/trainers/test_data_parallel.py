"""Data-parallel training: the same script under torchrun on 2 CPU processes (gloo).

Each scenario of `ddp_script.py` runs once under `torchrun --nproc_per_node=2` and, where the
test needs it, once alone in this process as the single-process reference.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import kfit
from tests.trainers import ddp_script

SCRIPT = os.path.join(os.path.dirname(__file__), "ddp_script.py")


def torchrun(mode: str, out: str, env: dict | None = None, wait: bool = True) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", SCRIPT, mode, out]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    process = subprocess.Popen(
        command, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    if wait:
        output, _ = process.communicate(timeout=240)
        assert process.returncode == 0, output.decode(errors="replace")[-3000:]
        process.output = output.decode(errors="replace")  # type: ignore[attr-defined]
    return process


def results(out: str, mode: str, ranks: int = 2) -> list[dict]:
    loaded = []
    for rank in range(ranks):
        with open(os.path.join(out, f"{mode}-rank{rank}.json")) as f:
            loaded.append(json.load(f))
    return loaded


def flat(value) -> np.ndarray:
    if isinstance(value, dict):
        return np.concatenate([flat(value[k]) for k in sorted(value)])
    if isinstance(value, list) and value and isinstance(value[0], list):
        return np.concatenate([np.asarray(v, dtype=float) for v in value])
    return np.atleast_1d(np.asarray(value, dtype=float))


@pytest.fixture(scope="module")
def parity_runs(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("parity"))
    torchrun("parity", out)
    single = str(tmp_path_factory.mktemp("single"))
    saved = sys.argv
    sys.argv = ["ddp_script.py", "parity", single]
    try:
        ddp_script.main()
    finally:
        sys.argv = saved
    return out, results(out, "parity"), results(single, "parity", ranks=1)[0]


@pytest.mark.parametrize("case", ["shuffle=False", "shuffle=True", "dataset", "custom_step"])
def test_two_ranks_agree_with_each_other_and_with_one_process(parity_runs, case):
    _, (rank0, rank1), single = parity_runs
    assert rank0["world_size"] == rank1["world_size"] == 2 and single["world_size"] == 1
    for key in rank0[case]:
        # Identical on both ranks: weights (DDP), logs (metric states reduced when read).
        np.testing.assert_array_equal(flat(rank0[case][key]), flat(rank1[case][key]), err_msg=key)
        # The same global batches as one process: the same numbers, up to float32 summation order.
        np.testing.assert_allclose(flat(rank0[case][key]), flat(single[case][key]), rtol=1e-6, atol=1e-6,
                                   err_msg=key)


def test_files_are_written_once_by_rank_zero(parity_runs):
    out, (rank0, _), _ = parity_runs
    with open(os.path.join(out, "log.csv")) as f:
        rows = f.read().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]
    assert float(rows[-1].split(",")[2]) == pytest.approx(rank0["shuffle=False"]["history"]["loss"][-1])
    assert sorted(f for f in os.listdir(out) if f.startswith("ckpt")) == [
        "ckpt-1.weights.h5", "ckpt-2.weights.h5", "ckpt-3.weights.h5"
    ]
    # The checkpoint holds the final weights of the run.
    model = ddp_script.build(seed=3)
    model.load_weights(os.path.join(out, "ckpt-3.weights.h5"))
    np.testing.assert_array_equal(flat([w.ravel().tolist() for w in model.get_weights()]),
                                  flat(rank0["shuffle=False"]["weights"]))


@pytest.fixture(scope="module")
def loader_runs(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("loaders"))
    output = torchrun("loaders", out).output
    return results(out, "loaders"), output


def test_a_stop_on_one_rank_stops_both_at_the_same_point(loader_runs):
    (rank0, rank1), _ = loader_runs
    # Rank 1 alone asks to stop at the end of epoch 1, or after its third batch.
    assert rank0["epoch_stop"]["epochs"] == rank1["epoch_stop"]["epochs"] == [0, 1]
    assert rank0["batch_stop"]["epochs"] == rank1["batch_stop"]["epochs"] == [0]
    assert rank0["batch_stop"]["batches"] == rank1["batch_stop"]["batches"] == 3
    np.testing.assert_array_equal(flat(rank0["batch_stop"]["weights"]), flat(rank1["batch_stop"]["weights"]))


def test_a_default_dataloader_is_resharded_and_a_custom_sampler_refused(loader_runs):
    (rank0, rank1), _ = loader_runs
    # 41 samples over 2 ranks (21 each, DistributedSampler), batches of 4: 6 steps, 2 epochs.
    assert rank0["loader_steps"] == rank1["loader_steps"] == 12
    np.testing.assert_array_equal(flat(rank0["loader_weights"]), flat(rank1["loader_weights"]))
    message = rank0["custom_sampler_error"]
    assert message is not None and "SubsetRandomSampler" in message and "DistributedSampler(dataset)" in message


def test_callbacks_generators_and_batchnorm_keep_the_ranks_together(loader_runs):
    (rank0, rank1), output = loader_runs
    # EarlyStopping and ReduceLROnPlateau see the same global logs, so they act alike, and the
    # restored best weights are the same on both ranks.
    assert rank0["early"]["epochs"] == rank1["early"]["epochs"]
    assert rank0["early"]["history"] == rank1["early"]["history"]
    assert rank0["early"]["lr"] == rank1["early"]["lr"]
    for key in ("generator_weights", "batchnorm_weights"):
        np.testing.assert_array_equal(flat(rank0[key]), flat(rank1[key]), err_msg=key)
    np.testing.assert_array_equal(flat(rank0["early"]["weights"]), flat(rank1["early"]["weights"]))
    # The progress bar is rank 0's alone: one line per epoch, not one per rank.
    assert output.count("Epoch 1/2") == 1 and output.count("Epoch 2/2") == 1


def _sequence(backup: str) -> int:
    try:
        with open(os.path.join(backup, "latest", "COMPLETE")) as f:
            return int(json.load(f)["sequence"])
    except (OSError, ValueError, KeyError):
        return -1


def test_resume_after_the_whole_job_is_killed_is_exact(tmp_path):
    reference = str(tmp_path / "reference")
    resumed = str(tmp_path / "resumed")
    os.makedirs(reference)
    os.makedirs(resumed)
    torchrun("resume", reference)
    job = torchrun("resume", resumed, wait=False)
    deadline = time.monotonic() + 120
    while _sequence(os.path.join(resumed, "backup")) < 6 and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.01)
    assert job.poll() is None, "the job ended before it could be killed"
    os.killpg(job.pid, signal.SIGKILL)  # torchrun and both ranks
    job.wait()
    assert not os.path.exists(os.path.join(resumed, "resume-rank0.json"))
    torchrun("resume", resumed)
    expected, got = results(reference, "resume"), results(resumed, "resume")
    for rank in (0, 1):
        # Dropout masks differ per rank; each rank's RNG states come back from the backup.
        np.testing.assert_array_equal(flat(got[rank]["weights"]), flat(expected[rank]["weights"]))
        assert got[rank]["history"] == expected[rank]["history"]
    with open(os.path.join(reference, "resume.csv")) as f, open(os.path.join(resumed, "resume.csv")) as g:
        assert g.read() == f.read()


def test_single_process_helpers():
    assert kfit.distribution.get_rank() == 0
    assert kfit.distribution.get_world_size() == 1
    assert kfit.distribution.is_main_process() and not kfit.distribution.is_distributed()
    model = ddp_script.build(seed=0)
    assert (model.distribute_rank, model.distribute_world_size) == (0, 1)

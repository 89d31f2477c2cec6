"""How data flows through `fit`, and who owns which argument.

    user data -> data adapter -> epoch iterator -> train step -> logs -> CallbackList -> callbacks

| stage | module | owns |
|---|---|---|
| data adapter | `data_adapters/` | `x`, `y`, `sample_weight`, `batch_size`, `shuffle`, `class_weight`; conversion to tensors (once per fit), the per-pass permutation, moving whole arrays to the device; in data-parallel training, this rank's share of each global batch (`sharding.py`) |
| epoch iterator | `epoch_iterator.py` | `steps_per_epoch` (continuing across epochs and wrapping), `validation_steps`, running out of data |
| trainer | `trainer.py` | `epochs`, `initial_epoch`, `verbose`, `callbacks`, `validation_split` (splits before the adapter sees the data), `validation_data`, `validation_freq`, `validation_batch_size`; the three loops and every hook call |
| step | `trainer.py` (`train_step`, `test_step`, `predict_step`, `compute_loss`, `compute_metrics`: Keras's overridable contract), `step_functions.py` (which one runs per batch), `fast_path.py` (the built-in step's fused kernels) | forward, loss, backward, optimizer step, metric update, all on the device; a model's own `train_step` returns the batch logs, the built-in one leaves them in `model.metrics` |
| logs | `logs.py` (`BatchLogs`), `Trainer._logs` | metric results to Python floats in one transfer; batch-end logs are a `BatchLogs`, a dict that does that read on its first access, so a hook that never looks costs no sync; epoch logs are read once per epoch |
| callbacks | `kfit/callbacks/` | `CallbackList` dispatches only to callbacks that override a hook, as often as their `hook_filters()` ask (`Every(n)`, `Never()`) |

Data-parallel training (`torchrun`, see docs/distributed.md) changes four places, each marked:
the adapters shard, the built-in step runs the model in DDP, `Trainer._logs` reduces the
metric states over the ranks, and the loops agree on `stop_training`. The collectives are in
`kfit/backend/distributed.py`.

`compile_utils.py` turns `compile(loss=..., metrics=...)` into `CompileLoss` and `CompileMetrics`
(one `Metric`, as in Keras), which the step calls.
"""

from kfit.trainers.epoch_iterator import EpochIterator
from kfit.trainers.logs import BatchLogs
from kfit.trainers.trainer import Trainer

__all__ = ["BatchLogs", "EpochIterator", "Trainer"]

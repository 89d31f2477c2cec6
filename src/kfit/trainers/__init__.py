"""How data flows through `fit`, and who owns which argument.

    user data -> data adapter -> epoch iterator -> train step -> logs -> CallbackList -> callbacks

| stage | module | owns |
|---|---|---|
| data adapter | `data_adapters/` | `x`, `y`, `sample_weight`, `batch_size`, `shuffle`, `class_weight`; conversion to tensors (once per fit), the per-pass permutation, moving whole arrays to the device |
| epoch iterator | `epoch_iterator.py` | `steps_per_epoch` (continuing across epochs and wrapping), `validation_steps`, running out of data |
| trainer | `trainer.py` | `epochs`, `initial_epoch`, `verbose`, `callbacks`, `validation_split` (splits before the adapter sees the data), `validation_data`, `validation_freq`, `validation_batch_size`; the three loops and every hook call |
| step | `kfit/backend/steps.py` | forward, loss, backward, optimizer step, metric update, all on the device |
| logs | `Trainer._logs` | metric results to Python floats in one transfer, only when a hook needs them |
| callbacks | `kfit/callbacks/` | `CallbackList` dispatches only to callbacks that override a hook |

`compile_utils.py` turns `compile(loss=..., metrics=...)` into the callables the step uses.
"""

from kfit.trainers.epoch_iterator import EpochIterator
from kfit.trainers.trainer import Trainer

__all__ = ["EpochIterator", "Trainer"]

"""Keras guide "Writing your own callbacks", section "Learning rate scheduling": a callback that
sets the optimizer's learning rate at the start of each epoch from a schedule.

This is the tf.keras 2 version of the guide, which reads and writes the rate with
`keras.backend.get_value`/`set_value` and the `optimizer.lr` alias (both gone from Keras 3,
kept by kfit for this kind of code). The code is unchanged except that `import kfit as keras`
replaces the TensorFlow imports (so `tf.keras.backend` reads `keras.backend`) and the MNIST
data comes from `guide_data.load_guide_data`.
Source: https://keras.io/guides/writing_your_own_callbacks/ (Rick Chao, Francois Chollet;
Apache License 2.0).

Run: python examples/learning_rate_scheduler.py
"""

import kfit as keras

from guide_data import get_model, load_guide_data
from loss_and_error_printing import LossAndErrorPrintingCallback


class CustomLearningRateScheduler(keras.callbacks.Callback):
    """Learning rate scheduler which sets the learning rate according to schedule.

  Arguments:
      schedule: a function that takes an epoch index
          (integer, indexed from 0) and current learning rate
          as inputs and returns a new learning rate as output (float).
  """

    def __init__(self, schedule):
        super(CustomLearningRateScheduler, self).__init__()
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model.optimizer, "lr"):
            raise ValueError('Optimizer must have a "lr" attribute.')
        # Get the current learning rate from model's optimizer.
        lr = float(keras.backend.get_value(self.model.optimizer.learning_rate))
        # Call schedule function to get the scheduled learning rate.
        scheduled_lr = self.schedule(epoch, lr)
        # Set the value back to the optimizer before this epoch starts
        keras.backend.set_value(self.model.optimizer.lr, scheduled_lr)
        print("\nEpoch %05d: Learning rate is %6.4f." % (epoch, scheduled_lr))


LR_SCHEDULE = [
    # (epoch to start, learning rate) tuples
    (3, 0.05),
    (6, 0.01),
    (9, 0.005),
    (12, 0.001),
]


def lr_schedule(epoch, lr):
    """Helper function to retrieve the scheduled learning rate based on epoch."""
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for i in range(len(LR_SCHEDULE)):
        if epoch == LR_SCHEDULE[i][0]:
            return LR_SCHEDULE[i][1]
    return lr


def main(data):
    """Trains 15 epochs of 5 steps while `CustomLearningRateScheduler` follows `LR_SCHEDULE`.

    Args:
        data: `((x_train, y_train), (x_test, y_test))`, as prepared by `load_guide_data`.
    """
    (x_train, y_train), (x_test, y_test) = data

    model = get_model()
    model.fit(
        x_train,
        y_train,
        batch_size=64,
        steps_per_epoch=5,
        epochs=15,
        verbose=0,
        callbacks=[
            LossAndErrorPrintingCallback(),
            CustomLearningRateScheduler(lr_schedule),
        ],
    )


if __name__ == "__main__":
    train, test, _ = load_guide_data()
    main((train, test))

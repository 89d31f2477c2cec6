"""Keras guide "Writing your own callbacks", section "Early stopping at minimum loss": a callback
that stops training (`self.model.stop_training = True`) once the loss stops decreasing and
restores the best weights.

The code below is the guide's (tf.keras 2 version), unchanged except that `import kfit as keras`
replaces the TensorFlow imports, the MNIST data comes from `guide_data.load_guide_data`, and
`np.Inf` (removed in NumPy 2.0) is spelled `np.inf`.
Source: https://keras.io/guides/writing_your_own_callbacks/ (Rick Chao, Francois Chollet;
Apache License 2.0).

Run: python examples/early_stopping_at_min_loss.py
"""

import kfit as keras
import numpy as np

from guide_data import get_model, load_guide_data
from loss_and_error_printing import LossAndErrorPrintingCallback


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    """Stop training when the loss is at its min, i.e. the loss stops decreasing.

  Arguments:
      patience: Number of epochs to wait after min has been hit. After this
      number of no improvement, training stops.
  """

    def __init__(self, patience=0):
        super(EarlyStoppingAtMinLoss, self).__init__()
        self.patience = patience
        # best_weights to store the weights at which the minimum loss occurs.
        self.best_weights = None

    def on_train_begin(self, logs=None):
        # The number of epoch it has waited when loss is no longer minimum.
        self.wait = 0
        # The epoch the training stops at.
        self.stopped_epoch = 0
        # Initialize the best as infinity.
        self.best = np.inf  # the guide's `np.Inf`, an alias that NumPy 2.0 removed

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            # Record the best weights if current results is better (less).
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                print("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            print("Epoch %05d: early stopping" % (self.stopped_epoch + 1))


def main(data):
    """Trains up to 30 epochs of 5 steps, stopped by `EarlyStoppingAtMinLoss`.

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
        epochs=30,
        verbose=0,
        callbacks=[LossAndErrorPrintingCallback(), EarlyStoppingAtMinLoss()],
    )


if __name__ == "__main__":
    train, test, _ = load_guide_data()
    main((train, test))

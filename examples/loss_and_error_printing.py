"""Keras guide "Writing your own callbacks", section "Usage of `logs` dict": a callback that
prints the running loss after every batch and the epoch's loss and mean absolute error.

The code below is the guide's (tf.keras 2 version), unchanged except that `import kfit as keras`
replaces the TensorFlow imports and the MNIST data comes from `guide_data.load_guide_data`.
Source: https://keras.io/guides/writing_your_own_callbacks/ (Rick Chao, Francois Chollet;
Apache License 2.0).

Run: python examples/loss_and_error_printing.py
"""

import kfit as keras

from guide_data import get_model, load_guide_data


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print(
            "Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"])
        )

    def on_test_batch_end(self, batch, logs=None):
        print(
            "Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"])
        )

    def on_epoch_end(self, epoch, logs=None):
        print(
            "The average loss for epoch {} is {:7.2f} "
            "and mean absolute error is {:7.2f}.".format(
                epoch, logs["loss"], logs["mean_absolute_error"]
            )
        )


def main(data):
    """Trains 2 epochs, then evaluates, printing the logs with `LossAndErrorPrintingCallback`.

    Args:
        data: `((x_train, y_train), (x_test, y_test))`, as prepared by `load_guide_data`.
    """
    (x_train, y_train), (x_test, y_test) = data

    model = get_model()
    model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=2,
        verbose=0,
        callbacks=[LossAndErrorPrintingCallback()],
    )

    res = model.evaluate(
        x_test,
        y_test,
        batch_size=128,
        verbose=0,
        callbacks=[LossAndErrorPrintingCallback()],
    )


if __name__ == "__main__":
    train, test, _ = load_guide_data()
    main((train, test))

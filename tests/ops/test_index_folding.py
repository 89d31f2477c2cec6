"""`fold_index` against NumPy's `pad`, which folds indices the same way for each mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.ops.index_folding import fold_index


@pytest.mark.parametrize("mode", ["edge", "wrap", "reflect", "symmetric"])
@pytest.mark.parametrize("length", [1, 2, 3, 5])
def test_matches_numpy_pad_of_the_indices(mode, length):
    before = after = 3 * length + 2
    expected = np.pad(np.arange(length), (before, after), mode=mode)
    got = fold_index(torch.arange(-before, length + after), length, mode)
    np.testing.assert_array_equal(got.numpy(), expected)


def test_unknown_mode_is_named():
    with pytest.raises(ValueError, match="Received: mode='mirror'"):
        fold_index(torch.arange(3), 3, "mirror")

"""`scalars_to_floats`: every metric value crosses to the host in one transfer, exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kfit.backend import conversion


@pytest.mark.parametrize(
    "values",
    [
        [torch.tensor(0.1), torch.tensor(1e-8), torch.tensor(3.0e38)],
        [torch.tensor(0.1, dtype=torch.float64), torch.tensor(0.2)],  # mixed dtypes
        [torch.tensor(1.5, dtype=torch.bfloat16), torch.tensor(7, dtype=torch.int64)],  # no numpy dtype
        [torch.tensor([2.5]), torch.tensor(0.3, requires_grad=True) * 1.0],  # one-element, in a graph
    ],
)
def test_values_are_the_exact_floats_of_each_tensor(values: list[torch.Tensor], host_reads: dict[str, int]) -> None:
    got = conversion.scalars_to_floats(values)
    assert host_reads["n"] == 1
    expected = [np.float64(v.detach().double().reshape(()).item()) for v in values]
    assert got == expected and all(type(x) is float for x in got)


def test_no_values_make_no_transfer(host_reads: dict[str, int]) -> None:
    assert conversion.scalars_to_floats([]) == []
    assert host_reads["n"] == 0

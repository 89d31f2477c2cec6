"""Linear algebra ops (`keras.ops.linalg`) on (batches of) matrices, as `torch.linalg` calls."""

from __future__ import annotations

from typing import Any

import torch

from kfit.ops.dtypes import result_type, to_torch_dtype
from kfit.ops.graph import keras_op
from kfit.ops.operands import convert_to_tensor, same_device_tensors, standardize_axis
from kfit.utils.errors import received

__all__ = [
    "cholesky",
    "cholesky_inverse",
    "det",
    "eig",
    "eigh",
    "inv",
    "jvp",
    "lstsq",
    "lu_factor",
    "matrix_rank",
    "norm",
    "pinv",
    "qr",
    "solve",
    "solve_triangular",
    "svd",
]


def _float(x: Any) -> torch.Tensor:
    x = convert_to_tensor(x)
    return x if x.dtype.is_floating_point or x.is_complex() else x.to(to_torch_dtype(None))


@keras_op
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """A vector norm (int `axis` or 1-D input) or matrix norm (two axes), as `numpy.linalg.norm`.

    The result is a float; 64-bit inputs give float32, as in Keras.

    Example:
        >>> norm(torch.tensor([3.0, 4.0]))
        tensor(5.)
    """
    x = convert_to_tensor(x)
    dtype = to_torch_dtype(None) if x.dtype == torch.int64 else to_torch_dtype(result_type(x.dtype, float))
    return torch.linalg.norm(x.to(dtype), ord=ord, dim=standardize_axis(axis), keepdim=keepdims)


@keras_op
def inv(x: Any) -> torch.Tensor:
    """The inverse of square matrices."""
    return torch.linalg.inv(_float(x))


@keras_op
def det(x: Any) -> torch.Tensor:
    """The determinant of square matrices."""
    return torch.linalg.det(_float(x))


@keras_op
def solve(a: Any, b: Any) -> torch.Tensor:
    """The solution `x` of `a @ x = b`."""
    lhs, rhs = same_device_tensors(a, b)
    return torch.linalg.solve(_float(lhs), _float(rhs))


@keras_op
def solve_triangular(a: Any, b: Any, lower: bool = False) -> torch.Tensor:
    """The solution `x` of `a @ x = b` for triangular `a` (lower when `lower=True`)."""
    lhs, rhs = same_device_tensors(a, b)
    rhs = _float(rhs)
    vector = rhs.dim() == lhs.dim() - 1
    out = torch.linalg.solve_triangular(_float(lhs), rhs.unsqueeze(-1) if vector else rhs, upper=not lower)
    return out.squeeze(-1) if vector else out


@keras_op
def cholesky(x: Any, upper: bool = False) -> torch.Tensor:
    """The Cholesky factor of symmetric positive-definite matrices (lower unless `upper=True`)."""
    return torch.linalg.cholesky(_float(x), upper=upper)


@keras_op
def cholesky_inverse(x: Any, upper: bool = False) -> torch.Tensor:
    """The inverse of a matrix from its Cholesky factor `x`."""
    return torch.cholesky_inverse(_float(x), upper=upper)


@keras_op
def eig(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The (complex) eigenvalues and eigenvectors of square matrices."""
    result = torch.linalg.eig(_float(x))
    return result.eigenvalues, result.eigenvectors


@keras_op
def eigh(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The eigenvalues (ascending) and eigenvectors of symmetric matrices."""
    result = torch.linalg.eigh(_float(x))
    return result.eigenvalues, result.eigenvectors


@keras_op
def lu_factor(x: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The packed LU factorization and the pivots (0-based, int32) of square matrices."""
    lu, pivots = torch.linalg.lu_factor(_float(x))
    return lu, (pivots - 1).to(torch.int32)


@keras_op
def qr(x: Any, mode: str = "reduced") -> tuple[torch.Tensor, torch.Tensor]:
    """The QR decomposition; `mode` is `"reduced"` or `"complete"`.

    Raises:
        ValueError: for another `mode`.
    """
    if mode not in ("reduced", "complete"):
        raise ValueError(f"Expected mode 'reduced' or 'complete'. {received('mode', mode)}")
    result = torch.linalg.qr(_float(x), mode=mode)
    return result.Q, result.R


@keras_op
def svd(x: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """The singular value decomposition `(u, s, vh)`, or only `s` when `compute_uv=False`."""
    x = _float(x)
    if not compute_uv:
        return torch.linalg.svdvals(x)
    result = torch.linalg.svd(x, full_matrices=full_matrices)
    return result.U, result.S, result.Vh


@keras_op
def lstsq(a: Any, b: Any, rcond: float | None = None) -> torch.Tensor:
    """The least-squares solution `x` minimizing `||a @ x - b||`."""
    lhs, rhs = same_device_tensors(a, b)
    rhs = _float(rhs)
    vector = rhs.dim() == 1
    lhs = _float(lhs)
    # The gelsd driver handles rank-deficient matrices (as numpy does) but runs only on CPU.
    driver = "gelsd" if lhs.device.type == "cpu" else None
    solution = torch.linalg.lstsq(lhs, rhs.unsqueeze(-1) if vector else rhs, rcond=rcond, driver=driver).solution
    return solution.squeeze(-1) if vector else solution


@keras_op
def matrix_rank(x: Any, tol: float | None = None) -> torch.Tensor:
    """The numerical rank (int32) of matrices (singular values above `tol`)."""
    return torch.linalg.matrix_rank(_float(x), atol=tol).to(torch.int32)


@keras_op
def pinv(x: Any, rcond: float | None = None) -> torch.Tensor:
    """The Moore-Penrose pseudo-inverse."""
    return torch.linalg.pinv(_float(x), rtol=rcond)


@keras_op
def jvp(fun: Any, primals: Any, tangents: Any, has_aux: bool = False) -> Any:
    """The forward-mode Jacobian-vector product of `fun` at `primals` along `tangents` (`torch.func.jvp`).

    Returns `(outputs, tangent_outputs)`, plus the auxiliary output when `has_aux=True`.

    Example:
        >>> jvp(lambda x: x * x, (torch.tensor(3.0),), (torch.tensor(1.0),))
        (tensor(9.), tensor(6.))
    """
    return torch.func.jvp(fun, tuple(primals), tuple(tangents), has_aux=has_aux)

"""Weights of a projection: dense and sparse matrices, convolutions and pooling.

Each kind is a frozen dataclass that a back end maps to its own operator
(one plan per back end: ``spikec.backends.netsim.default_plan``,
``spikec.backends.jax.plans.choose_plan``, nengo's transforms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse

from spikec.ir.attrs import ConstArray, IndexArray
from spikec.ir.conv import conv_output_shape, conv_padding, conv_pattern


@dataclass(frozen=True)
class Dense:
    """A dense weight matrix of shape ``(size_out, size_in)``."""

    weights: ConstArray

    @property
    def shape(self) -> tuple[int, int]:
        return self.weights.shape  # type: ignore[return-value]

    @property
    def nnz(self) -> int:
        return int(np.count_nonzero(self.weights.value))

    def to_scipy(self) -> scipy.sparse.csr_array:
        return scipy.sparse.csr_array(self.weights.value)

    def to_dense(self) -> np.ndarray:
        return self.weights.value

    def label(self) -> str:
        return f"dense{list(self.shape)}"


@dataclass(frozen=True)
class Sparse:
    """A sparse weight matrix in coordinate form (``rows``, ``cols``, ``data``)."""

    shape: tuple[int, int]
    rows: IndexArray
    cols: IndexArray
    data: ConstArray

    @classmethod
    def from_scipy(cls, matrix: Any) -> Sparse:
        coo = scipy.sparse.coo_array(matrix)
        coo.sum_duplicates()
        keep = coo.data != 0
        return cls(tuple(int(d) for d in coo.shape), IndexArray(coo.row[keep]), IndexArray(coo.col[keep]),
                   ConstArray(coo.data[keep]))

    @property
    def nnz(self) -> int:
        return int(self.data.value.size)

    def to_scipy(self) -> scipy.sparse.csr_array:
        return scipy.sparse.csr_array((self.data.value, (self.rows.value, self.cols.value)), shape=self.shape)

    def to_dense(self) -> np.ndarray:
        return self.to_scipy().toarray()

    def label(self) -> str:
        return f"sparse{list(self.shape)} nnz={self.nnz}"


@dataclass(frozen=True)
class Convolution:
    """A 2-D convolution (cross-correlation, as in TensorFlow and ``nengo.Convolution``), channels last.

    Maps a flat ``input_shape = (height, width, channels)`` value to a flat
    ``(out_height, out_width, filters)`` value with ``kernel`` of shape
    ``(kh, kw, channels, filters)``: ``y[i, j, f] = sum_{a, b, c} kernel[a,
    b, c, f] * x_padded[i * sy + a, j * sx + b, c]``.  Back ends run it as a
    convolution (never as the equivalent sparse matrix, which would hold
    ``kh*kw*channels`` weights per output element).
    """

    input_shape: tuple[int, int, int]
    kernel: ConstArray
    strides: tuple[int, int] = (1, 1)
    padding: str = "valid"

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return conv_output_shape(self.input_shape, self.kernel.shape, self.strides, self.padding)

    @property
    def shape(self) -> tuple[int, int]:
        return (math.prod(self.output_shape), math.prod(self.input_shape))

    @cached_property
    def _pattern(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """COO ``(rows, cols, kernel index)`` of every weight that reads a real (unpadded) input."""
        return conv_pattern(self.input_shape, self.kernel.shape, self.strides, self.padding)

    def matrix(self, kernel: np.ndarray | None = None) -> scipy.sparse.csr_array:
        """The equivalent sparse matrix (for checks and the NumPy simulator), optionally for another kernel."""
        rows, cols, kidx = self._pattern
        k = np.ravel(self.kernel.value if kernel is None else kernel)
        return scipy.sparse.csr_array((k[kidx], (rows, cols)), shape=self.shape)

    def fan_out(self) -> np.ndarray:
        """Nonzero weights reading each input element (``(size_in,)``), without building the matrix."""
        h, w, c = self.input_shape
        kernel = self.kernel.value
        kh, kw = kernel.shape[:2]
        oh, ow, _ = self.output_shape
        (top, _), (left, _) = conv_padding(self.input_shape, kernel.shape, self.strides, self.padding)
        nonzero = np.count_nonzero(kernel, axis=3)  # (kh, kw, c)
        fan = np.zeros((h, w, c), dtype=np.int64)
        for a in range(kh):
            ys = np.arange(oh) * self.strides[0] + a - top
            ys = ys[(ys >= 0) & (ys < h)]
            for b in range(kw):
                xs = np.arange(ow) * self.strides[1] + b - left
                xs = xs[(xs >= 0) & (xs < w)]
                # for one kernel offset, distinct outputs read distinct inputs
                fan[ys[:, None], xs[None, :], :] += nonzero[a, b]
        return fan.ravel()

    @property
    def nnz(self) -> int:
        return int(self.fan_out().sum())

    def to_scipy(self) -> scipy.sparse.csr_array:
        return self.matrix()

    def to_dense(self) -> np.ndarray:
        return self.matrix().toarray()

    def label(self) -> str:
        kh, kw, c, f = self.kernel.shape
        stride = "" if self.strides == (1, 1) else f" stride={list(self.strides)}"
        return f"conv{kh}x{kw}x{c}->{f} {list(self.input_shape)}->{list(self.output_shape)}{stride} {self.padding}"


@dataclass(frozen=True)
class AvgPool:
    """Average pooling of a flat ``input_shape = (height, width, channels)`` value, channels last, 'valid'.

    Output ``(i, j, c)`` is the mean of the ``pool`` window at ``(i * sy,
    j * sx)`` of channel ``c`` (Keras' ``AveragePooling2D``).  It has no
    weights to train; back ends run it as a pooling (JAX) or as its sparse
    matrix (NumPy, nengo).
    """

    input_shape: tuple[int, int, int]
    pool: tuple[int, int] = (2, 2)
    strides: tuple[int, int] = (2, 2)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        (h, w, c), (ph, pw), (sy, sx) = self.input_shape, self.pool, self.strides
        return ((h - ph) // sy + 1, (w - pw) // sx + 1, c)

    @property
    def shape(self) -> tuple[int, int]:
        return (math.prod(self.output_shape), math.prod(self.input_shape))

    def matrix(self) -> scipy.sparse.csr_array:
        """The equivalent sparse matrix (weights ``1 / (ph * pw)``)."""
        from numpy.lib.stride_tricks import sliding_window_view

        n_in = math.prod(self.input_shape)
        index = np.arange(n_in, dtype=np.int64).reshape(self.input_shape)
        windows = sliding_window_view(index, self.pool, axis=(0, 1))[::self.strides[0], ::self.strides[1]]
        cols = windows.reshape(-1, self.pool[0] * self.pool[1])
        k = cols.shape[1]
        rows = np.repeat(np.arange(cols.shape[0], dtype=np.int64), k)
        return scipy.sparse.csr_array((np.full(rows.size, 1.0 / k), (rows, cols.ravel())), shape=self.shape)

    def fan_out(self) -> np.ndarray:
        return np.asarray((self.matrix() != 0).sum(axis=0)).ravel().astype(np.int64)

    @property
    def nnz(self) -> int:
        return math.prod(self.output_shape) * self.pool[0] * self.pool[1]

    def to_scipy(self) -> scipy.sparse.csr_array:
        return self.matrix()

    def to_dense(self) -> np.ndarray:
        return self.matrix().toarray()

    def label(self) -> str:
        stride = "" if self.strides == self.pool else f" stride={list(self.strides)}"
        return f"avgpool{self.pool[0]}x{self.pool[1]} {list(self.input_shape)}->{list(self.output_shape)}{stride}"


Transform = Dense | Sparse | Convolution | AvgPool

# Below this density a weight matrix is stored sparse: it is smaller and nengo
# and JAX multiply it faster.
SPARSE_DENSITY = 0.25


def make_transform(matrix: Any) -> Transform:
    """The better of :class:`Dense` and :class:`Sparse` for a weight matrix."""
    if scipy.sparse.issparse(matrix):
        size = math.prod(matrix.shape)
        if (size and matrix.nnz / size < SPARSE_DENSITY) or size > 4_000_000:
            return Sparse.from_scipy(matrix)
        matrix = matrix.toarray()
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size and np.count_nonzero(matrix) / matrix.size < SPARSE_DENSITY:
        return Sparse.from_scipy(matrix)
    return Dense(ConstArray(matrix))

"""Convolution geometry shared by the IR (shapes, reference) and the netlist's transforms."""

from __future__ import annotations

import numpy as np


def conv_output_shape(input_shape: tuple[int, int, int], kernel_shape: tuple[int, ...],
                      strides: tuple[int, int], padding: str) -> tuple[int, int, int]:
    """Output ``(height, width, filters)`` of a channels-last 2-D convolution (TensorFlow/nengo rules)."""
    (h, w, _), (kh, kw, _, f) = input_shape, kernel_shape
    sy, sx = strides
    if padding == "same":
        return (-(-h // sy), -(-w // sx), f)
    return ((h - kh) // sy + 1, (w - kw) // sx + 1, f)


def conv_padding(input_shape, kernel_shape, strides, padding) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((top, bottom), (left, right))`` zero padding of a convolution (TensorFlow's "same" split)."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    out = conv_output_shape(input_shape, kernel_shape, strides, padding)
    pads = []
    for size, k, s, o in zip(input_shape[:2], kernel_shape[:2], strides, out[:2]):
        total = max((o - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)  # type: ignore[return-value]


def conv_pattern(input_shape, kernel_shape, strides, padding) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO ``(rows, cols, kernel index)`` of every weight of a convolution that reads a real (unpadded) input.

    The convolution as a matrix of shape ``(prod(output), prod(input))`` is
    ``csr_array((ravel(kernel)[kidx], (rows, cols)))``.
    """
    h, w, c = input_shape
    kh, kw, _, f = kernel_shape
    oh, ow, _ = conv_output_shape(input_shape, kernel_shape, strides, padding)
    (top, _), (left, _) = conv_padding(input_shape, kernel_shape, strides, padding)
    i, j, a, b, ch, fi = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(kh), np.arange(kw),
                                     np.arange(c), np.arange(f), indexing="ij", sparse=True)
    y = i * strides[0] + a - top
    x = j * strides[1] + b - left
    shape = (oh, ow, kh, kw, c, f)
    valid = np.broadcast_to((y >= 0) & (y < h) & (x >= 0) & (x < w), shape)
    rows = np.broadcast_to((i * ow + j) * f + fi, shape)[valid]
    cols = np.broadcast_to((y * w + x) * c + ch, shape)[valid]
    kidx = np.broadcast_to(((a * kw + b) * c + ch) * f + fi, shape)[valid]
    return rows.astype(np.int64), cols.astype(np.int64), kidx.astype(np.int64)

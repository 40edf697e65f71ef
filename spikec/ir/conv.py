"""Convolution geometry shared by the IR (shapes, reference) and the netlist's transforms."""

from __future__ import annotations


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

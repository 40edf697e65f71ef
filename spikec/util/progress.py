"""Progress bars for long runs (tqdm), shown only where someone can see them."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")

# Runs shorter than this many steps finish too fast for a bar to help.
MIN_STEPS_FOR_BAR = 2000


def show_progress(enable: bool | None, total: int, min_steps: int = MIN_STEPS_FOR_BAR) -> bool:
    """Whether to show a bar: ``enable=None`` shows one only for runs of ``min_steps`` or more on a terminal."""
    if enable is None:
        return total >= min_steps and sys.stderr.isatty()
    return bool(enable)


def progress_bar(iterable: Iterable[T], total: int, desc: str, enable: bool | None = None) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm bar.

    ``enable=None`` shows the bar only for long runs on an interactive
    terminal (tqdm's own TTY detection); True forces it, False hides it.
    """
    if enable is False or (enable is None and total < MIN_STEPS_FOR_BAR):
        return iterable
    # Imported here, not at the top: tqdm.auto costs ~0.1 s of every fresh process's time to first
    # result, and most runs show no bar.
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=None if enable is None else False, leave=False)

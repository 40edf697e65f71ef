"""``python -m spikec``: the same as the ``spikec`` command (see :mod:`spikec.cli`)."""

import sys

from spikec.cli import main

if __name__ == "__main__":
    sys.exit(main())

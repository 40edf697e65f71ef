"""``python -m spikec``: the same as the ``spikec`` command (see :mod:`spikec.tools.cli`)."""

import sys

from spikec.tools.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m spikec.tools.cli``: the ``spikec`` command (``python -m spikec`` does the same)."""

import sys

from spikec.tools.cli import main

if __name__ == "__main__":
    sys.exit(main())

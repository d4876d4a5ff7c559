"""Run the command line: ``python -m duneasync demo``."""

import sys

from duneasync._cli import main

if __name__ == "__main__":
    sys.exit(main())

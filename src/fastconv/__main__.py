"""`python -m fastconv` runs the `fastconv` command (see `fastconv --help`)."""
import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())

"""Entry point of `python -m pigw` and of the built `pigw.pyz`."""

import sys

from pigw.cli import main

if __name__ == "__main__":
    sys.exit(main())

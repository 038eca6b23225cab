"""The command line's entry point in the PyInstaller bundle (installer/dubsmith.spec)."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())

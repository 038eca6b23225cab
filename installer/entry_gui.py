"""The desktop app's entry point in the PyInstaller bundle (installer/dubsmith.spec)."""

import sys

from app.gui import main

if __name__ == "__main__":
    sys.exit(main())

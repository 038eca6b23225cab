"""`python -m app.gui`: the desk, as `dubsmith-gui` starts it."""

import sys

from app.gui import main

sys.exit(main())

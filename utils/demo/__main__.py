"""``python -m utils.demo``: the Quick-start demo (see :mod:`utils.demo.quickstart`)."""

import sys

from utils.demo.quickstart import main

sys.exit(main())

"""``python -m utils.demo``: the Quick-start demo (see :mod:`utils.demo.quickstart`)."""

import sys

from utils.common.pyversion import require_python

require_python("python -m utils.demo")

from utils.demo.quickstart import main  # noqa: E402

sys.exit(main())

"""The check every script runs first: a Python new enough for lurge (3.11, for tomllib).

Kept free of newer syntax so that an old interpreter reaches the check and
prints one clear line instead of a traceback.
"""

import sys

MINIMUM = (3, 11)
EXIT_USAGE = 2


def version_problem(version_info=None):
    """A one-line explanation when ``version_info`` (default: this Python's) is too old, else None."""
    version = tuple(version_info or sys.version_info)
    if version[:2] >= MINIMUM:
        return None
    return ("lurge needs Python %d.%d or newer (it reads its configuration with tomllib), "
            "but %s is Python %s; see README.md"
            % (MINIMUM[0], MINIMUM[1], sys.executable or "this interpreter",
               ".".join(str(part) for part in version[:3])))


def require_python(program):
    """Exit with status 2 and one line on stderr when this Python is too old."""
    problem = version_problem()
    if problem is not None:
        sys.stderr.write("%s: error: %s\n" % (program, problem))
        sys.exit(EXIT_USAGE)

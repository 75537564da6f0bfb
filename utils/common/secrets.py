"""The suite's secrets: which environment variables hold them, and children that never see them.

The database and LDAP passwords and the AWS credentials are read from the
environment (docs/directory.md, docs/reliability.md).  Commands the suite runs
for data (``lfs quota``, ``getent``) need none of them, so they get an
environment without them: a command that misbehaves, logs its environment or
is replaced by something hostile on PATH cannot pass them on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SECRET_VARIABLES = (
    "LURGE_DB_PASSWORD",
    "LURGE_LDAP_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The non-empty values of :data:`SECRET_VARIABLES` in ``environ`` (default: this process's)."""
    source = os.environ if environ is None else environ
    return [value for name in SECRET_VARIABLES if (value := source.get(name))]


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``environ`` (default: this process's) without :data:`SECRET_VARIABLES`."""
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if name not in SECRET_VARIABLES}

"""Exception types shared by the suite; the scripts map them to exit statuses."""


class LurgeError(Exception):
    """A failure the run cannot recover from (exit status 1)."""


class UsageError(LurgeError):
    """Bad command-line usage or configuration (exit status 2)."""


class ConfigError(UsageError):
    """The configuration file is missing, unreadable or invalid."""


class SnapshotError(LurgeError):
    """An mpistat snapshot could not be read to its end (a failed snapshot)."""


class DirectoryError(LurgeError):
    """The LDAP directory (or its offline LDIF export) could not be read."""


class DatabaseError(LurgeError):
    """The database could not be reached or a load failed."""


class UploadError(LurgeError):
    """One or more files could not be uploaded to object storage."""

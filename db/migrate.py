"""Creating and upgrading the schema with Alembic, from inside lurge (no alembic.ini needed).

:func:`ensure_schema` brings a database to the newest revision before every
run that uses it (docs/database.md, "Upgrades"):

* no lurge tables: every revision runs, creating the tables;
* lurge tables but no recorded version (made before versions were tracked):
  recognised as revision 0001 — its ``CREATE ... IF NOT EXISTS`` statements
  complete anything missing and the version is recorded — then upgraded;
* an older revision: the newer revisions run, in order, keeping every row;
* the newest revision: nothing runs;
* a revision this code does not know (made by a newer lurge): refused.

Two processes never upgrade at once: SQLite's write lock, or a MySQL named
lock, makes the second wait and then find nothing left to do.
:func:`pending_upgrade` tells what :func:`ensure_schema` would do, changing nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cache
from typing import Callable, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from db.connection import DEFAULT_TIMEOUT, Database, connect, named_lock, parse_url
from db.migrations import UpgradeRefused
from utils.common.errors import DatabaseError

log = logging.getLogger(__name__)
logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines repeat what we log below

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
FIRST_REVISION = "0001"
VERSION_TABLE = "alembic_version"
LURGE_TABLES = frozenset({"pi", "unix_group", "volume", "lustre_usage", "directory", "filetype",
                          "file_size", "inspection", "unix_user", "user_usage"})
UPGRADE_LOCK_TIMEOUT = 600  # seconds to wait for another process's upgrade (MySQL)

T = TypeVar("T")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest revision this code knows."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


@dataclass(frozen=True)
class SchemaState:
    """What a database holds, as far as upgrades are concerned."""

    revision: str | None  # the recorded version; None when none is recorded
    tables: frozenset[str]  # the lurge tables present

    @property
    def empty(self) -> bool:
        return self.revision is None and not self.tables


def schema_state(connection: sa.Connection) -> SchemaState:
    """The recorded revision and the lurge tables of the connected database."""
    heads = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_heads()
    if len(heads) > 1:
        raise UpgradeRefused(f"the database records several schema versions at once ({', '.join(heads)})")
    tables = frozenset(sa.inspect(connection).get_table_names()) & LURGE_TABLES
    return SchemaState(heads[0] if heads else None, tables)


def pending_revisions(state: SchemaState) -> list[tuple[str, str]]:
    """(revision, one-line description) of every revision an upgrade would run, oldest first.

    Raises :class:`UpgradeRefused` for a revision this code does not know.
    """
    scripts = _scripts()
    start = state.revision  # None: from the first revision (which only completes old tables)
    if start is not None:
        try:
            scripts.get_revision(start)
        except CommandError:
            raise UpgradeRefused(
                f"the database schema is at revision {start!r}, which this version of lurge does "
                f"not know (its newest is {head_revision()}): it was upgraded by a newer lurge. "
                "Run that version, or restore a backup made before the upgrade; nothing was changed"
            ) from None
    revisions = list(scripts.iterate_revisions(head_revision(), start))
    return [(script.revision, (script.doc or "").strip().splitlines()[0]) for script in reversed(revisions)]


def ensure_schema(database: Database) -> None:
    """Bring ``database`` to the newest revision (see the module docstring)."""
    with database.read() as connection:
        state = _refusing(database, lambda: schema_state(connection))
        if state.revision == head_revision():
            return
    with database.begin() as connection, named_lock(database, connection, "schema", UPGRADE_LOCK_TIMEOUT):
        state = _refusing(database, lambda: schema_state(connection))
        pending = _refusing(database, lambda: pending_revisions(state))
        if not pending:
            return
        _log_plan(database, state, pending)
        config = _config()
        config.attributes["connection"] = connection
        _refusing(database, lambda: command.upgrade(config, "head"))
    log.info("database schema of %s: now at revision %s", database.url, head_revision())


def pending_upgrade(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """What the next run would do to the schema of ``url``, or None when it is up to date.

    Changes nothing (a missing SQLite file is not created).  Raises
    :class:`DatabaseError` when the database cannot be reached or is newer than the code.
    """
    target = parse_url(url)
    head = head_revision()
    if target.dialect == "sqlite" and not os.path.exists(target.url.database or ""):
        return f"would create {target.url.database} with the lurge tables (schema revision {head})"
    with connect(url, timeout=timeout) as database, database.read() as connection:
        state = _refusing(database, lambda: schema_state(connection))
        if state.revision == head:
            return None
        pending = _refusing(database, lambda: pending_revisions(state))
    if state.empty:
        return f"would create the lurge tables (schema revision {head})"
    if state.revision is None:  # revision 0001 only completes and records the old tables
        return (f"would recognise the existing tables (made before schema versions were tracked) as "
                f"revision {FIRST_REVISION} and upgrade them to {head} ({_steps(pending[1:])})")
    return f"would upgrade the database schema from revision {state.revision} to {head} ({_steps(pending)})"


def _steps(pending: list[tuple[str, str]]) -> str:
    return "; ".join(f"{revision}: {text.rstrip('.')}" for revision, text in pending)

def _log_plan(database: Database, state: SchemaState, pending: list[tuple[str, str]]) -> None:
    if state.empty:
        log.info("database %s has no lurge tables: creating them (schema revision %s)",
                 database.url, head_revision())
        return
    if state.revision is None:
        log.info("database %s has lurge tables but no recorded schema version: recognised as "
                 "revision %s", database.url, FIRST_REVISION)
    for revision, text in pending:
        log.info("database %s: upgrading the schema to revision %s (%s)", database.url, revision, text)


def _refusing(database: Database, action: Callable[[], T]) -> T:
    """Run ``action``, turning a refused upgrade into a DatabaseError naming the database."""
    try:
        return action()
    except UpgradeRefused as refused:
        raise DatabaseError(f"{database.url}: {refused}") from None

"""Opening the database: SQLAlchemy engines from lurge's URLs, transactions, clear errors.

URLs (see docs/database.md): ``mysql+mysqlconnector://user[:password]@host[:port]/db``,
its short form ``mysql://…`` (the same driver), and ``sqlite:///relative.db`` or
``sqlite:////abs/path.db``.  A MySQL password missing from the URL comes from
``$LURGE_DB_PASSWORD``.

What every connection guarantees, on both engines:

* transactions are explicit (:meth:`Database.begin`); a write transaction on
  SQLite starts with ``BEGIN IMMEDIATE``, so two writers queue instead of
  deadlocking when they upgrade their locks;
* MySQL sessions talk utf8mb4, run at READ COMMITTED (a statement sees rows
  other sessions committed) in strict SQL mode; SQLite enforces foreign keys;
* DATE columns come back as :class:`datetime.date`;
* every driver error becomes :class:`DatabaseError` naming the URL with its
  password redacted, never the password itself.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections import deque
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from mysql.connector.cursor import MySQLCursorPrepared
from sqlalchemy import event, exc
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.mysql.mysqlconnector import (MySQLDialect_mysqlconnector,
                                                      MySQLExecutionContext_mysqlconnector)

from utils.common.config import redact_url
from utils.common.errors import DatabaseError

log = logging.getLogger(__name__)

PASSWORD_ENV = "LURGE_DB_PASSWORD"
DEFAULT_MYSQL_PORT = 3306
DEFAULT_TIMEOUT = 10.0
MYSQL_DRIVER = "mysql+mysqlconnector"
ENGINE_DRIVER = "mysql+lurge_mysqlconnector"  # mysql-connector, adjusted below
MYSQL_SCHEMES = ("mysql", MYSQL_DRIVER)
SQLITE_PREFIX = "sqlite:///"
MYSQL_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO"

BATCH_ROWS = 5000  # rows per executemany round trip
BATCH_BYTES = 4 * 1024 * 1024  # about the most parameter bytes per round trip (utf-8 upper bound)
RETRYABLE_MYSQL_ERRORS = {1213: "deadlock", 1205: "lock wait timeout"}
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)  # seconds before each retry (plus up to 50% jitter)
_SQL_PREVIEW_CHARS = 300
_BACKGROUND = re.compile(r"\s*\(Background on this error at: [^)]*\)")  # SQLAlchemy's link to its FAQ
_IMMEDIATE = "lurge_immediate"  # execution option: begin SQLite transactions with BEGIN IMMEDIATE

T = TypeVar("T")


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database URL; ``repr`` never shows the password."""

    url: sa.URL = field(repr=False)  # what SQLAlchemy connects to
    shown: str  # the URL as given, password redacted
    secrets: tuple[str, ...] = field(default=(), repr=False)  # strings to scrub from messages

    @property
    def dialect(self) -> str:
        """``"mysql"`` or ``"sqlite"``."""
        return self.url.get_backend_name()

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this URL replaced by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def safe_redact_url(url: str) -> str:
    """:func:`redact_url`, falling back to hiding all credentials when it cannot parse."""
    try:
        return redact_url(url)
    except ValueError:
        scheme, sep, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}" if sep and "@" in rest else url


def parse_url(url: str, environ: Mapping[str, str] | None = None) -> DatabaseUrl:
    """Parse a MySQL or SQLite URL (see the module docstring)."""
    env = os.environ if environ is None else environ
    shown = safe_redact_url(url)
    if url.startswith(SQLITE_PREFIX):
        path = url[len(SQLITE_PREFIX):]
        if not path:
            raise DatabaseError(f"{url}: no SQLite file path (use sqlite:///relative.db or sqlite:////abs/path)")
        return DatabaseUrl(sa.URL.create("sqlite", database=path), shown)
    if url.startswith("sqlite:"):
        raise DatabaseError(f"{shown}: SQLite URLs look like sqlite:///relative.db or sqlite:////abs/path")
    scheme = url.partition("://")[0]
    if scheme not in MYSQL_SCHEMES:
        raise DatabaseError(f"{shown}: unsupported database URL (use {MYSQL_DRIVER}://..., mysql://... "
                            "or sqlite:///...)")
    return _parse_mysql_url(url, shown, env)


def _parse_mysql_url(url: str, shown: str, env: Mapping[str, str]) -> DatabaseUrl:
    parts = urlsplit(url)
    raw_password = parts.password
    secrets = tuple(s for s in dict.fromkeys((raw_password, unquote(raw_password or ""))) if s)
    try:
        port = parts.port
    except ValueError:
        raise DatabaseError(f"{shown}: invalid port in database URL") from None
    if not parts.hostname:
        raise DatabaseError(f"{shown}: no host in database URL")
    if parts.query or parts.fragment:
        raise DatabaseError(f"{shown}: database URL options (?...) are not supported")
    database = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
    if "/" in database:
        raise DatabaseError(f"{shown}: database name must be a single path component")
    if raw_password is None:
        password = env.get(PASSWORD_ENV) or None
        secrets = (password,) if password else ()
    else:
        password = unquote(raw_password)
    target = sa.URL.create(
        ENGINE_DRIVER,
        username=unquote(parts.username) if parts.username else None,
        password=password,
        host=parts.hostname,
        port=port or DEFAULT_MYSQL_PORT,
        database=database or None,
    )
    return DatabaseUrl(target, shown, secrets)


class _BufferedPreparedCursor(MySQLCursorPrepared):
    """A prepared-statement cursor that reads its whole result at once, as SQLAlchemy expects
    of mysql-connector's cursors (the driver offers no buffered prepared cursor)."""

    def execute(self, operation: Any, params: Any = None, map_results: bool = False) -> None:
        super().execute(operation, params, map_results)
        self._rows = deque(super().fetchall() if self.description else ())

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return [self._rows.popleft() for _ in range(min(size or self.arraysize, len(self._rows)))]

    def fetchall(self) -> list[Any]:
        rows, self._rows = list(self._rows), deque()
        return rows


class _PreparedExecutionContext(MySQLExecutionContext_mysqlconnector):
    """Statements with parameters run as server-side prepared statements.

    Their values then never pass through mysql-connector's client-side
    quoting, which rewrites a value that looks like a ``DELIMITER`` command
    (a name such as ``a'b delimiter ;; c'``) into broken SQL.
    """

    def create_default_cursor(self) -> Any:
        if self.isddl:
            has_parameters = False
        elif self.compiled is not None:
            has_parameters = bool(getattr(self.compiled, "bind_names", None))
        else:
            has_parameters = bool(self.parameters and self.parameters[0])
        if has_parameters:
            return self._dbapi_connection.cursor(cursor_class=_BufferedPreparedCursor)
        return super().create_default_cursor()


class LurgeMySQLDialect(MySQLDialect_mysqlconnector):
    """mysql-connector with prepared statements; executemany INSERTs become multi-row INSERTs."""

    execution_ctx_cls = _PreparedExecutionContext
    supports_statement_cache = True
    use_insertmanyvalues_wo_returning = True  # prepared cursors would otherwise send row by row


registry.register("mysql.lurge_mysqlconnector", __name__, "LurgeMySQLDialect")


def connect(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> Database:
    """Open the database at ``url`` and check that it answers.

    ``timeout`` bounds connecting (and, on SQLite, waiting for another writer's lock).
    """
    target = parse_url(url)
    if target.dialect == "sqlite":
        engine = sa.create_engine(target.url, connect_args={"timeout": timeout})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    else:
        engine = sa.create_engine(
            target.url,
            isolation_level="READ COMMITTED",
            pool_pre_ping=True,
            connect_args={
                "connection_timeout": timeout,
                "charset": "utf8mb4",
                "use_pure": True,  # same behaviour wherever the C extension does or does not load
                "sql_mode": MYSQL_SQL_MODE,
            },
        )
    database = Database(target, engine, timeout)
    with database.read():  # fail now, with a clear message, if the server is not there
        pass
    return database


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver's implicit BEGINs off: ours below
    dbapi_connection.execute("PRAGMA foreign_keys = ON")


def _sqlite_on_begin(connection: sa.Connection) -> None:
    immediate = connection.get_execution_options().get(_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """An engine for one database URL; create it with :func:`connect`.

    Use :meth:`begin` to write (one transaction), :meth:`read` to query.
    """

    def __init__(self, target: DatabaseUrl, engine: sa.Engine, timeout: float) -> None:
        self._target = target
        self._engine: sa.Engine | None = engine
        self._writing = threading.local()  # whether this thread is inside begin()
        self.timeout = timeout

    @property
    def url(self) -> str:
        """The URL with any password redacted."""
        return self._target.shown

    @property
    def dialect(self) -> str:
        """``"mysql"`` or ``"sqlite"``."""
        return self._target.dialect

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            raise DatabaseError(f"{self.url}: the connection is closed")
        return self._engine

    @property
    def closed(self) -> bool:
        return self._engine is None

    def __repr__(self) -> str:
        return f"Database({self.url!r}, {'closed' if self.closed else 'open'})"

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A connection in one write transaction: COMMIT at the end, ROLLBACK if the block raises."""
        with self._transaction(retryable=False) as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A connection for queries; whatever it did is rolled back at the end."""
        with self._connection(immediate=False) as connection:
            with self._translated():
                yield connection

    def run_transaction(self, work: Callable[[sa.Connection], T], what: str) -> T:
        """``work`` in one write transaction, rerun from the start after a MySQL deadlock
        or lock wait timeout (a few times, with growing pauses) before failing."""
        for attempt, delay in enumerate((*RETRY_DELAYS, None), start=1):
            try:
                with self._transaction(retryable=True) as connection:
                    return work(connection)
            except _Retryable as retry:
                if delay is None:
                    raise DatabaseError(f"{self.url}: {what} failed after {attempt} attempts: "
                                        f"{retry.reason}") from None
                pause = delay * (1 + random.random() / 2)
                log.warning("%s: %s (attempt %d); retrying in %.1f s", what, retry.reason, attempt, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every pooled connection; idempotent."""
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------
    @contextmanager
    def _connection(self, *, immediate: bool) -> Iterator[sa.Connection]:
        engine = self.engine
        try:
            connection = engine.connect()
        except exc.SQLAlchemyError as err:
            raise self._connect_error(err) from None
        try:
            if immediate and self.dialect == "sqlite":
                connection.execution_options(**{_IMMEDIATE: True})
            yield connection
        finally:
            try:
                connection.close()
            except exc.SQLAlchemyError:  # closing a broken connection: nothing left to release
                pass

    @contextmanager
    def _transaction(self, *, retryable: bool) -> Iterator[sa.Connection]:
        if getattr(self._writing, "active", False):  # on SQLite it would wait for its own lock
            raise DatabaseError(f"{self.url}: nested transactions are not supported")
        self._writing.active = True
        try:
            with self._connection(immediate=True) as connection:
                with self._translated(retryable=retryable):
                    with connection.begin():
                        yield connection
        finally:
            self._writing.active = False

    @contextmanager
    def _translated(self, *, retryable: bool = False) -> Iterator[None]:
        try:
            yield
        except exc.DBAPIError as err:
            code = _mysql_errno(err)
            if retryable and code in RETRYABLE_MYSQL_ERRORS:
                raise _Retryable(f"{code} {RETRYABLE_MYSQL_ERRORS[code]}: {self._reason(err)}") from None
            raise self.error(err) from None
        except exc.SQLAlchemyError as err:
            raise self.error(err) from None
        except OverflowError as err:  # SQLite's driver refuses integers of 2**63 or more itself
            raise DatabaseError(f"{self.url}: statement failed: {err}") from None

    def error(self, err: exc.SQLAlchemyError) -> DatabaseError:
        """``err`` as a :class:`DatabaseError` naming the URL and the statement, without secrets."""
        statement = getattr(err, "statement", None)
        if statement:
            preview = " ".join(statement.split())
            if len(preview) > _SQL_PREVIEW_CHARS:
                preview = preview[:_SQL_PREVIEW_CHARS] + "..."
            return DatabaseError(f"{self.url}: statement failed: {self._reason(err)} "
                                 f"[SQL: {self._target.scrub(preview)}]")
        return DatabaseError(f"{self.url}: {self._reason(err)}")

    def _reason(self, err: BaseException) -> str:
        """The driver's message, without secrets."""
        cause = getattr(err, "orig", None) or err
        text = _BACKGROUND.sub("", str(cause)) or type(cause).__name__
        return self._target.scrub(text)

    def _connect_error(self, err: exc.SQLAlchemyError) -> DatabaseError:
        reason = self._reason(err)
        if self.dialect == "sqlite":
            return DatabaseError(f"cannot open {self.url}: {reason}")
        cause = getattr(err, "orig", None)
        if _is_timeout(cause):
            reason = f"the server did not answer within the {self.timeout:g} s connection timeout"
        return DatabaseError(f"cannot connect to {self.url}: {reason}")


class _Retryable(Exception):
    """A MySQL deadlock or lock wait timeout: the transaction was rolled back and may be rerun."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _mysql_errno(err: exc.DBAPIError) -> int | None:
    return getattr(err.orig, "errno", None)


def _is_timeout(cause: BaseException | None) -> bool:
    if isinstance(cause, TimeoutError):
        return True
    try:
        from mysql.connector import errors
    except ImportError:  # pragma: no cover - the driver is a dependency
        return False
    return isinstance(cause, (errors.ConnectionTimeoutError, errors.ReadTimeoutError))


def insert_rows(connection: sa.Connection, into: sa.Table | sa.Insert,
                rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows`` (dicts of column values) with executemany; returns how many.

    ``into`` is a table, or an INSERT statement built on one (``INSERT IGNORE``...).
    Rows go in batches of at most BATCH_ROWS rows and about BATCH_BYTES bytes:
    the MySQL driver sends a batch as one statement, which must stay below the
    server's packet limit.
    """
    statement = sa.insert(into) if isinstance(into, sa.Table) else into
    batch: list[Mapping[str, Any]] = []
    size = 0
    for row in rows:
        row_size = sum(4 * len(value) if isinstance(value, str) else 9 for value in row.values())
        if batch and (len(batch) >= BATCH_ROWS or size + row_size > BATCH_BYTES):
            connection.execute(statement, batch)
            batch, size = [], 0
        batch.append(row)
        size += row_size
    if batch:
        connection.execute(statement, batch)
    return len(rows)


@contextmanager
def named_lock(database: Database, connection: sa.Connection, purpose: str, timeout: float) -> Iterator[None]:
    """On MySQL, hold the server's named lock for ``purpose`` on this database while the block runs.

    Runs that share one database (from different hosts or report folders) take
    turns; the lock goes with the session if the process dies.  SQLite needs
    none: a write transaction already excludes other writers.
    """
    if database.dialect != "mysql":
        yield
        return
    name = sa.func.left(sa.func.concat(f"lurge-{purpose}-", sa.func.database()), 64)
    if connection.execute(sa.select(sa.func.get_lock(name, timeout))).scalar() != 1:
        raise DatabaseError(f"{database.url}: another run held the {purpose} lock for {timeout:g} s; "
                            "try again later")
    try:
        yield
    except BaseException:
        if not connection.invalidated:  # a lost session has released it already
            with suppress(exc.SQLAlchemyError):  # the error that got us here matters more
                connection.execute(sa.select(sa.func.release_lock(name)))
        raise
    connection.execute(sa.select(sa.func.release_lock(name)))

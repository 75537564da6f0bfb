"""Open a database by URL and use MySQL/MariaDB or SQLite through one small API.

URLs: ``mysql://user[:password]@host[:port]/database`` and ``sqlite:///path``
(``sqlite:////abs/path`` for an absolute path).  SQL is written once, with
``?`` placeholders, and runs unchanged on both engines: MySQL statements are
sent as server-side prepared statements, whose native placeholder is ``?``.
Parameters therefore never pass through the driver's client-side quoting, which
rewrites values that look like ``DELIMITER`` commands.

Results look the same on both engines: booleans are ints 0/1, DATE columns are
:class:`datetime.date`, DATETIME columns :class:`datetime.datetime` (whole
seconds: microseconds are dropped on the way in), exact MySQL DECIMAL results
(``SUM`` of integers) are ints, inexact ones floats.  A date computed by an
expression (``MAX(record_date)``) is text on SQLite: pass it through
:func:`as_date`.

Transactions are explicit: :meth:`Database.transaction` groups statements;
outside it every call commits on its own.  MySQL sessions run at READ COMMITTED
so that a statement inside a transaction sees rows other sessions committed.
Every driver error becomes :class:`DatabaseError`, naming the URL with its
password redacted and never containing the password.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import os
import re
import sqlite3
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from utils.common.config import redact_url
from utils.common.errors import DatabaseError

PASSWORD_ENV = "LURGE_DB_PASSWORD"
DEFAULT_MYSQL_PORT = 3306
DEFAULT_TIMEOUT = 10.0

BATCH_ROWS = 5000  # rows per executemany round trip
BATCH_BYTES = 4 * 1024 * 1024  # upper bound on the parameter bytes of one round trip
MYSQL_MAX_PLACEHOLDERS = 65535  # per prepared statement
MYSQL_STATEMENT_CACHE = 32  # prepared statements kept open per connection
MYSQL_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO"

SQLITE_PREFIX = "sqlite:///"
_VALUES_CLAUSE = re.compile(r"\bVALUES\s*\(", re.IGNORECASE)
_SQL_PREVIEW_CHARS = 300

Params = Sequence[Any]


@dataclass(frozen=True)
class ConnectionTarget:
    """What a database URL points at; ``repr`` never shows the password."""

    engine: str  # "mysql" or "sqlite"
    url: str = field(repr=False)
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    path: str | None = None  # SQLite file
    secrets: tuple[str, ...] = field(default=(), repr=False)  # strings to scrub from messages

    @property
    def redacted_url(self) -> str:
        return safe_redact_url(self.url)

    def scrub(self, text: str) -> str:
        """``text`` with every secret of this target replaced by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def safe_redact_url(url: str) -> str:
    """:func:`redact_url`, falling back to hiding all credentials when it cannot parse."""
    try:
        return redact_url(url)
    except ValueError:
        return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@", r"\1***@", url)


def parse_url(url: str, environ: Mapping[str, str] | None = None) -> ConnectionTarget:
    """Parse a ``mysql://`` or ``sqlite:///`` URL (see the module docstring)."""
    env = os.environ if environ is None else environ
    if url.startswith(SQLITE_PREFIX):
        path = url[len(SQLITE_PREFIX):]
        if not path:
            raise DatabaseError(f"{url}: no SQLite file path (use sqlite:///relative.db or sqlite:////abs/path)")
        return ConnectionTarget(engine="sqlite", url=url, path=path)
    if url.startswith("sqlite:"):
        raise DatabaseError(f"{safe_redact_url(url)}: SQLite URLs look like sqlite:///relative.db or sqlite:////abs/path")
    if url.startswith("mysql://"):
        return _parse_mysql_url(url, env)
    raise DatabaseError(f"{safe_redact_url(url)}: unsupported database URL (use mysql://... or sqlite:///...)")


def _parse_mysql_url(url: str, env: Mapping[str, str]) -> ConnectionTarget:
    shown = safe_redact_url(url)
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
    database = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
    if "/" in database:
        raise DatabaseError(f"{shown}: database name must be a single path component")
    if raw_password is None:
        password = env.get(PASSWORD_ENV) or None
        if password:
            secrets = (password,)
    else:
        password = unquote(raw_password)
    return ConnectionTarget(
        engine="mysql",
        url=url,
        host=parts.hostname,
        port=port or DEFAULT_MYSQL_PORT,
        user=unquote(parts.username) if parts.username else None,
        password=password,
        database=database or None,
        secrets=secrets,
    )


def connect(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> Database:
    """Open the database at ``url``; ``timeout`` bounds connecting (and SQLite lock waits)."""
    target = parse_url(url)
    if target.engine == "sqlite":
        return Database(target, _open_sqlite(target, timeout))
    return Database(target, _open_mysql(target, timeout))


def _open_sqlite(target: ConnectionTarget, timeout: float) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            target.path or "",
            timeout=timeout,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            detect_types=sqlite3.PARSE_DECLTYPES,
            check_same_thread=False,  # one thread at a time, but any thread
        )
        conn.execute("PRAGMA foreign_keys = ON")
        return conn
    except sqlite3.Error as err:
        raise DatabaseError(f"cannot open {target.redacted_url}: {target.scrub(str(err))}") from None


def _open_mysql(target: ConnectionTarget, timeout: float) -> Any:
    import mysql.connector  # imported lazily: SQLite-only runs never need the driver

    options: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "user": target.user or "",
        "password": target.password or "",
        "connection_timeout": timeout,
        "autocommit": False,
        "charset": "utf8mb4",
        "use_pure": True,  # same behaviour wherever the C extension does or does not load
        "sql_mode": MYSQL_SQL_MODE,
    }
    if target.database:
        options["database"] = target.database
    try:
        conn = mysql.connector.connect(**options)
    except Exception as err:  # the driver raises several families while connecting
        reason = _describe(err, target)
        if isinstance(err, (mysql.connector.errors.ConnectionTimeoutError,
                            mysql.connector.errors.ReadTimeoutError, TimeoutError)):
            reason = f"the server did not answer within the {timeout:g} s connection timeout"
        raise DatabaseError(f"cannot connect to {target.redacted_url}: {reason}") from None
    try:
        conn.cmd_query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        conn.commit()
    except mysql.connector.Error as err:
        conn.close()
        raise DatabaseError(f"cannot set up session on {target.redacted_url}: {_describe(err, target)}") from None
    return conn


def _describe(err: BaseException, target: ConnectionTarget) -> str:
    """The driver's message, without secrets."""
    text = str(err) or type(err).__name__
    return target.scrub(text)


def _preview(sql: str) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= _SQL_PREVIEW_CHARS else flat[:_SQL_PREVIEW_CHARS] + "..."


def as_date(value: Any) -> datetime.date | None:
    """A DATE result as :class:`datetime.date` (SQLite gives text for computed dates)."""
    if value is None or type(value) is datetime.date:
        return value
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("ascii")
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    raise TypeError(f"not a date: {value!r}")


def _iso_converter(kind: type[datetime.date]) -> Any:
    """An SQLite converter: ISO text to ``kind`` (date or datetime); other text as is."""
    def convert(raw: bytes) -> Any:
        text = raw.decode("utf-8", "replace")
        try:
            return kind.fromisoformat(text)
        except ValueError:
            return text
    return convert


# Converters are looked up by declared column type; ours replace the deprecated defaults.
sqlite3.register_converter("DATE", _iso_converter(datetime.date))
sqlite3.register_converter("DATETIME", _iso_converter(datetime.datetime))


def _adapt_value(value: Any, engine: str) -> Any:
    """A parameter in the form both engines store identically."""
    if isinstance(value, datetime.datetime):
        value = value.replace(microsecond=0)
        return value.isoformat(sep=" ") if engine == "sqlite" else value
    if isinstance(value, datetime.date):
        return value.isoformat() if engine == "sqlite" else value
    if isinstance(value, bool):
        return int(value)
    return value


def _adapt(params: Params, engine: str) -> tuple[Any, ...]:
    if isinstance(params, (str, bytes)) or not isinstance(params, Sequence):
        raise TypeError(f"SQL parameters must be a sequence of values, not {type(params).__name__}")
    return tuple(_adapt_value(value, engine) for value in params)


def _exact_number(value: decimal.Decimal) -> int | float:
    """MySQL DECIMAL results as SQLite would give them: int when whole-valued and exact."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return int(value)
    return float(value)


def _estimated_bytes(row: Sequence[Any]) -> int:
    size = 16
    for value in row:
        if isinstance(value, str):
            size += 4 * len(value)  # utf-8 upper bound, no encoding needed
        elif isinstance(value, (bytes, bytearray)):
            size += len(value)
        else:
            size += 9
    return size


def _batches(rows: Iterable[Params], max_rows: int) -> Iterator[list[Params]]:
    """Consecutive batches of at most ``max_rows`` rows and about BATCH_BYTES bytes."""
    batch: list[Params] = []
    size = 0
    for row in rows:
        row_size = _estimated_bytes(row)
        if batch and (len(batch) >= max_rows or size + row_size > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += row_size
    if batch:
        yield batch


def _split_values_clause(sql: str) -> tuple[str, str, str] | None:
    """``INSERT ... VALUES (?, ?) tail`` as (head, row group, tail), or None."""
    match = _VALUES_CLAUSE.search(sql)
    if not match:
        return None
    start = match.end() - 1
    depth = 0
    for index in range(start, len(sql)):
        char = sql[index]
        if char in "'\"`":
            return None  # literals in the row group: do not rewrite
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return sql[:start], sql[start:index + 1], sql[index + 1:]
    return None


class Database:
    """A connection to MySQL/MariaDB or SQLite; create it with :func:`connect`.

    Not safe for concurrent use by several threads (use one per thread).
    """

    def __init__(self, target: ConnectionTarget, raw_connection: Any) -> None:
        self._target = target
        self._conn: Any = raw_connection
        self._in_transaction = False
        self._statements: OrderedDict[str, tuple[str, Any]] = OrderedDict()  # MySQL prepared cursors

    # -- introspection -------------------------------------------------
    @property
    def engine(self) -> str:
        """``"mysql"`` or ``"sqlite"``."""
        return self._target.engine

    @property
    def url(self) -> str:
        """The URL with any password redacted."""
        return self._target.redacted_url

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"Database({self.url!r}, {state})"

    # -- statements ------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        values = _adapt(params, self.engine)
        with self._unit_of_work(sql, many=False):
            cursor = self._run(sql, values)
            if cursor.description:
                cursor.fetchall()  # drain a result nobody asked for
            return max(cursor.rowcount, 0)

    def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT; returns the auto-increment id of the new row."""
        values = _adapt(params, self.engine)
        with self._unit_of_work(sql, many=False):
            cursor = self._run(sql, values)
            return int(cursor.lastrowid)

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Run one statement and return all its rows as tuples."""
        values = _adapt(params, self.engine)
        with self._unit_of_work(sql, many=False):
            cursor = self._run(sql, values)
            rows = cursor.fetchall() if cursor.description else []
            return self._normalise(cursor, rows)

    def executemany(self, sql: str, rows: Iterable[Params], *, batch_rows: int = BATCH_ROWS) -> int:
        """Run ``sql`` for every row, ``batch_rows`` rows per round trip; returns rows changed.

        On MySQL an ``INSERT ... VALUES (?, ...)`` becomes one multi-row INSERT per
        batch; other statements run once per row.  Outside :meth:`transaction` all
        rows are committed together or not at all.
        """
        adapted = (_adapt(row, self.engine) for row in rows)
        total = 0
        with self._unit_of_work(sql, many=True):
            if self.engine == "sqlite":
                for batch in _batches(adapted, batch_rows):
                    total += max(self._conn.executemany(sql, batch).rowcount, 0)
                return total
            split = _split_values_clause(sql)
            if split is None:
                for row in adapted:
                    total += max(self._run(sql, row).rowcount, 0)
                return total
            head, group, tail = split
            placeholders = max(group.count("?"), 1)
            max_rows = max(1, min(batch_rows, MYSQL_MAX_PLACEHOLDERS // placeholders))
            multi_row_sql: dict[int, str] = {}
            for batch in _batches(adapted, max_rows):
                statement = multi_row_sql.get(len(batch))
                if statement is None:
                    statement = head + ", ".join([group] * len(batch)) + tail
                    multi_row_sql[len(batch)] = statement
                flat = tuple(itertools.chain.from_iterable(batch))
                total += max(self._run(statement, flat).rowcount, 0)
            return total

    # -- transactions ----------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """BEGIN; COMMIT when the block ends normally, ROLLBACK when it raises."""
        self._check_open()
        if self._in_transaction:
            raise DatabaseError(f"{self.url}: nested transaction() is not supported")
        self._guarded("BEGIN", self._begin)
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self._in_transaction = False
            self._rollback_quietly()
            raise
        self._in_transaction = False
        try:
            self._conn.commit()
        except (sqlite3.Error, self._driver_error()) as err:
            self._rollback_quietly()
            raise DatabaseError(f"{self.url}: COMMIT failed: {_describe(err, self._target)}") from None

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back); idempotent."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        self._statements.clear()
        self._in_transaction = False
        try:
            conn.close()
        except Exception:  # closing a broken connection: nothing left to release
            pass

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------
    def _check_open(self) -> None:
        if self._conn is None:
            raise DatabaseError(f"{self.url}: the connection is closed")

    def _driver_error(self) -> type[BaseException]:
        if self.engine == "mysql":
            import mysql.connector

            return mysql.connector.Error
        return sqlite3.Error

    def _guarded(self, what: str, action: Any) -> Any:
        try:
            return action()
        except (sqlite3.Error, OverflowError, self._driver_error()) as err:
            raise DatabaseError(f"{self.url}: {what} failed: {_describe(err, self._target)}") from None

    def _begin(self) -> None:
        if self.engine == "sqlite":
            # IMMEDIATE takes the write lock now (waiting up to the busy timeout),
            # so two writers never deadlock upgrading their locks later.
            self._conn.execute("BEGIN IMMEDIATE")
        else:
            if self._conn.in_transaction:
                self._conn.rollback()
            self._conn.start_transaction()

    def _rollback_quietly(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rollback()
        except Exception:  # the original error matters more than a failed rollback
            pass

    @contextmanager
    def _unit_of_work(self, sql: str, *, many: bool) -> Iterator[None]:
        """Run a call inside the open transaction, or atomically on its own."""
        self._check_open()
        standalone = not self._in_transaction
        if standalone and self.engine == "sqlite" and many:
            self._guarded("BEGIN", self._begin)
        try:
            yield
        except (sqlite3.Error, OverflowError, self._driver_error()) as err:
            if standalone and (self.engine == "mysql" or many):
                self._rollback_quietly()
            raise DatabaseError(
                f"{self.url}: statement failed: {_describe(err, self._target)} "
                f"[SQL: {self._target.scrub(_preview(sql))}]"
            ) from None
        except BaseException:
            if standalone and (self.engine == "mysql" or many):
                self._rollback_quietly()
            raise
        if standalone and (self.engine == "mysql" or many):
            self._guarded("COMMIT", self._conn.commit)

    def _run(self, sql: str, values: tuple[Any, ...]) -> Any:
        if self.engine == "sqlite":
            return self._conn.execute(sql, values)
        statement, cursor = self._prepared(sql)
        try:
            cursor.execute(statement, values)
        except BaseException:
            self._forget(sql)  # a failed cursor may hold half-read state
            raise
        prepared = getattr(cursor, "_prepared", None) or {}
        if prepared.get("parameters") and not values:
            self._forget(sql)
            raise DatabaseError(f"{self.url}: statement has placeholders but no parameters "
                                f"[SQL: {self._target.scrub(_preview(sql))}]")
        return cursor

    def _prepared(self, sql: str) -> tuple[str, Any]:
        """A cached prepared-statement cursor, and the exact string it was prepared from.

        The driver re-prepares unless it is handed the very same string object.
        """
        cached = self._statements.get(sql)
        if cached is not None:
            self._statements.move_to_end(sql)
            return cached
        cached = (sql, self._conn.cursor(prepared=True))
        self._statements[sql] = cached
        if len(self._statements) > MYSQL_STATEMENT_CACHE:
            self._forget(next(iter(self._statements)))
        return cached

    def _forget(self, sql: str) -> None:
        cached = self._statements.pop(sql, None)
        if cached is not None:
            try:
                cached[1].close()
            except Exception:  # deallocating a statement is best effort
                pass

    def _normalise(self, cursor: Any, rows: list[Any]) -> list[tuple[Any, ...]]:
        if self.engine == "sqlite" or not rows:
            return [tuple(row) for row in rows]
        from mysql.connector.constants import FieldType

        decimal_columns = [
            index for index, column in enumerate(cursor.description)
            if column[1] in (FieldType.DECIMAL, FieldType.NEWDECIMAL)
        ]
        if not decimal_columns:
            return [tuple(row) for row in rows]
        result = []
        for row in rows:
            values = list(row)
            for index in decimal_columns:
                if isinstance(values[index], decimal.Decimal):
                    values[index] = _exact_number(values[index])
            result.append(tuple(values))
        return result

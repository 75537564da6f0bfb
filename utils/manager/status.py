"""Which stages are done for a date: the report's TSV and database rows, the inspections.

A real run reads the database as it will use it (tables created first).  A
dry run reads the same facts without changing anything: a missing SQLite
file is not created, missing tables are not created (they simply hold no
rows), and a database it cannot reach is described instead of failing.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Mapping

import sqlalchemy as sa

from db.connection import Database, connect, parse_url
from db.directory import inspection_dates
from db.migrate import ensure_schema, pending_upgrade
from db.usage import usage_loaded
from utils.common.config import Config, VolumeConfig
from utils.common.errors import LurgeError
from utils.report.tsv import tsv_path, tsv_written


@dataclass(frozen=True)
class StageStatus:
    """What is already in place for one date."""

    date: dt.date
    tsv: bool  # report-<date>.tsv is in place
    rows: bool | None  # the database holds the date's report rows (None: could not check)
    inspected: Mapping[str, dt.date] = field(default_factory=dict)  # volume name -> snapshot date
    database_problem: str | None = None  # dry run: why the database could not be read
    schema_change: str | None = None  # dry run: what a real run would do to the schema first

    @property
    def report_done(self) -> bool:
        return self.tsv and bool(self.rows)

    def pending_inspections(self, config: Config) -> list[VolumeConfig]:
        """Volumes with inspection roots whose rows are not from this date."""
        return [volume for volume in config.volumes
                if volume.inspect_roots and self.inspected.get(volume.name) != self.date]

    def inspector_done(self, config: Config) -> bool:
        return self.database_problem is None and not self.pending_inspections(config)


def read_status(config: Config, date: dt.date, *, dry_run: bool = False) -> StageStatus:
    """The stages' state for ``date``, read as a real run (or, changing nothing, a dry run) would."""
    tsv = tsv_written(tsv_path(config.paths.report_dir, date))
    if not dry_run:
        with connect(config.database.url, timeout=config.database.timeout) as db:
            ensure_schema(db)
            return StageStatus(date, tsv, usage_loaded(db, date), inspection_dates(db))
    try:
        return _read_without_changes(config, date, tsv)
    except LurgeError as exc:
        return StageStatus(date, tsv, None, database_problem=str(exc))


def _read_without_changes(config: Config, date: dt.date, tsv: bool) -> StageStatus:
    url, timeout = config.database.url, config.database.timeout
    change = pending_upgrade(url, timeout=timeout)  # raises for a database it cannot use
    target = parse_url(url)
    if target.dialect == "sqlite" and not os.path.exists(target.url.database or ""):
        return StageStatus(date, tsv, False, schema_change=change)
    with connect(url, timeout=timeout) as db:
        present = existing_tables(db)
        rows = "lustre_usage" in present and usage_loaded(db, date)
        inspected = (inspection_dates(db) if {"inspection", "volume"} <= present else {})
    return StageStatus(date, tsv, rows, inspected, schema_change=change)


def existing_tables(db: Database) -> set[str]:
    """The names of the tables the database holds."""
    with db.read() as connection:
        return set(sa.inspect(connection).get_table_names())

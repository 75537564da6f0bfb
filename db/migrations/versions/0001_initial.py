"""The schema as lurge created it before versions were tracked.

The CREATE statements are exactly those of that release, on each engine, so a
database it made and one made here are the same.  Every statement is
``CREATE ... IF NOT EXISTS``: on a database that release made (tables present,
no version recorded) this revision only completes what is missing and records
the version.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.migrations import mysql_collation

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEED_FILETYPES = ("BAM", "CRAM", "VCF", "PEDBED")

MYSQL_TABLES = (
    """CREATE TABLE IF NOT EXISTS pi (
  pi_id BIGINT NOT NULL AUTO_INCREMENT,
  pi_name TEXT NOT NULL,
  PRIMARY KEY (pi_id),
  UNIQUE KEY pi_unique (pi_name(255))
)""",
    """CREATE TABLE IF NOT EXISTS unix_group (
  group_id BIGINT NOT NULL AUTO_INCREMENT,
  group_name TEXT NOT NULL,
  is_humgen BOOL NOT NULL,
  PRIMARY KEY (group_id),
  UNIQUE KEY unix_group_unique (group_name(255), is_humgen)
)""",
    """CREATE TABLE IF NOT EXISTS volume (
  volume_id BIGINT NOT NULL AUTO_INCREMENT,
  scratch_disk TEXT NOT NULL,
  PRIMARY KEY (volume_id),
  UNIQUE KEY volume_unique (scratch_disk(255))
)""",
    """CREATE TABLE IF NOT EXISTS lustre_usage (
  record_id BIGINT NOT NULL AUTO_INCREMENT,
  used BIGINT,
  quota BIGINT,
  quota_used BIGINT,
  record_date DATE NOT NULL,
  archived BOOL,
  last_modified DOUBLE,
  pi_id BIGINT,
  unix_id BIGINT NOT NULL,
  volume_id BIGINT NOT NULL,
  PRIMARY KEY (record_id),
  KEY lustre_usage_record_date (record_date),
  FOREIGN KEY (pi_id) REFERENCES pi(pi_id),
  FOREIGN KEY (unix_id) REFERENCES unix_group(group_id),
  FOREIGN KEY (volume_id) REFERENCES volume(volume_id)
)""",
    """CREATE TABLE IF NOT EXISTS directory (
  directory_id BIGINT NOT NULL AUTO_INCREMENT,
  project_name TEXT,
  directory_path TEXT,
  num_files BIGINT,
  size DOUBLE,
  last_modified DOUBLE,
  pi_id BIGINT,
  group_id BIGINT,
  volume_id BIGINT NOT NULL,
  PRIMARY KEY (directory_id),
  KEY directory_volume_id (volume_id),
  FOREIGN KEY (pi_id) REFERENCES pi(pi_id),
  FOREIGN KEY (group_id) REFERENCES unix_group(group_id),
  FOREIGN KEY (volume_id) REFERENCES volume(volume_id)
)""",
    """CREATE TABLE IF NOT EXISTS filetype (
  filetype_id BIGINT NOT NULL AUTO_INCREMENT,
  filetype_name TEXT NOT NULL,
  PRIMARY KEY (filetype_id),
  UNIQUE KEY filetype_unique (filetype_name(255))
)""",
    """CREATE TABLE IF NOT EXISTS file_size (
  file_size_id BIGINT NOT NULL AUTO_INCREMENT,
  directory_id BIGINT NOT NULL,
  filetype_id BIGINT NOT NULL,
  size DOUBLE,
  PRIMARY KEY (file_size_id),
  KEY file_size_directory_id (directory_id),
  FOREIGN KEY (directory_id) REFERENCES directory(directory_id) ON DELETE CASCADE,
  FOREIGN KEY (filetype_id) REFERENCES filetype(filetype_id)
)""",
    """CREATE TABLE IF NOT EXISTS inspection (
  volume_id BIGINT NOT NULL,
  snapshot_date DATE NOT NULL,
  loaded_at DATETIME NOT NULL,
  PRIMARY KEY (volume_id),
  FOREIGN KEY (volume_id) REFERENCES volume(volume_id)
)""",
)
MYSQL_TABLE_OPTIONS = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE={collation}"

SQLITE_TABLES = (
    """CREATE TABLE IF NOT EXISTS pi (
  pi_id INTEGER PRIMARY KEY AUTOINCREMENT,
  pi_name TEXT NOT NULL,
  UNIQUE (pi_name)
)""",
    """CREATE TABLE IF NOT EXISTS unix_group (
  group_id INTEGER PRIMARY KEY AUTOINCREMENT,
  group_name TEXT NOT NULL,
  is_humgen BOOLEAN NOT NULL,
  UNIQUE (group_name, is_humgen)
)""",
    """CREATE TABLE IF NOT EXISTS volume (
  volume_id INTEGER PRIMARY KEY AUTOINCREMENT,
  scratch_disk TEXT NOT NULL,
  UNIQUE (scratch_disk)
)""",
    """CREATE TABLE IF NOT EXISTS lustre_usage (
  record_id INTEGER PRIMARY KEY AUTOINCREMENT,
  used INTEGER,
  quota INTEGER,
  quota_used INTEGER,
  record_date DATE NOT NULL,
  archived BOOLEAN,
  last_modified REAL,
  pi_id INTEGER,
  unix_id INTEGER NOT NULL,
  volume_id INTEGER NOT NULL,
  FOREIGN KEY (pi_id) REFERENCES pi(pi_id),
  FOREIGN KEY (unix_id) REFERENCES unix_group(group_id),
  FOREIGN KEY (volume_id) REFERENCES volume(volume_id)
)""",
    "CREATE INDEX IF NOT EXISTS lustre_usage_record_date ON lustre_usage (record_date)",
    """CREATE TABLE IF NOT EXISTS directory (
  directory_id INTEGER PRIMARY KEY AUTOINCREMENT,
  project_name TEXT,
  directory_path TEXT,
  num_files INTEGER,
  size REAL,
  last_modified REAL,
  pi_id INTEGER,
  group_id INTEGER,
  volume_id INTEGER NOT NULL,
  FOREIGN KEY (pi_id) REFERENCES pi(pi_id),
  FOREIGN KEY (group_id) REFERENCES unix_group(group_id),
  FOREIGN KEY (volume_id) REFERENCES volume(volume_id)
)""",
    "CREATE INDEX IF NOT EXISTS directory_volume_id ON directory (volume_id)",
    """CREATE TABLE IF NOT EXISTS filetype (
  filetype_id INTEGER PRIMARY KEY AUTOINCREMENT,
  filetype_name TEXT NOT NULL,
  UNIQUE (filetype_name)
)""",
    """CREATE TABLE IF NOT EXISTS file_size (
  file_size_id INTEGER PRIMARY KEY AUTOINCREMENT,
  directory_id INTEGER NOT NULL,
  filetype_id INTEGER NOT NULL,
  size REAL,
  FOREIGN KEY (directory_id) REFERENCES directory(directory_id) ON DELETE CASCADE,
  FOREIGN KEY (filetype_id) REFERENCES filetype(filetype_id)
)""",
    "CREATE INDEX IF NOT EXISTS file_size_directory_id ON file_size (directory_id)",
    """CREATE TABLE IF NOT EXISTS inspection (
  volume_id INTEGER NOT NULL,
  snapshot_date DATE NOT NULL,
  loaded_at DATETIME NOT NULL,
  PRIMARY KEY (volume_id),
  FOREIGN KEY (volume_id) REFERENCES volume(volume_id)
)""",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "mysql":
        options = MYSQL_TABLE_OPTIONS.format(collation=mysql_collation(bind))
        statements = [statement + options for statement in MYSQL_TABLES]
        insert = "INSERT IGNORE INTO"
    else:
        statements = list(SQLITE_TABLES)
        insert = "INSERT OR IGNORE INTO"
    for statement in statements:
        op.execute(statement)
    present = set(bind.execute(sa.text("SELECT filetype_name FROM filetype")).scalars())
    for name in SEED_FILETYPES:  # one at a time, in order: a new database gives them ids 1-4
        if name not in present:
            bind.execute(sa.text(f"{insert} filetype (filetype_name) VALUES (:name)"), {"name": name})


def downgrade() -> None:
    raise NotImplementedError("lurge does not downgrade: restore a backup instead (docs/database.md)")

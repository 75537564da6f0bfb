-- The schema lurge created before schema versions were tracked (SQLite), verbatim:
-- the CREATE statements its db/schema.py ran, then its filetype seed.  Frozen: never edit.

CREATE TABLE IF NOT EXISTS pi (
  pi_id INTEGER PRIMARY KEY AUTOINCREMENT,
  pi_name TEXT NOT NULL,
  UNIQUE (pi_name)
);

CREATE TABLE IF NOT EXISTS unix_group (
  group_id INTEGER PRIMARY KEY AUTOINCREMENT,
  group_name TEXT NOT NULL,
  is_humgen BOOLEAN NOT NULL,
  UNIQUE (group_name, is_humgen)
);

CREATE TABLE IF NOT EXISTS volume (
  volume_id INTEGER PRIMARY KEY AUTOINCREMENT,
  scratch_disk TEXT NOT NULL,
  UNIQUE (scratch_disk)
);

CREATE TABLE IF NOT EXISTS lustre_usage (
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
);
CREATE INDEX IF NOT EXISTS lustre_usage_record_date ON lustre_usage (record_date);

CREATE TABLE IF NOT EXISTS directory (
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
);
CREATE INDEX IF NOT EXISTS directory_volume_id ON directory (volume_id);

CREATE TABLE IF NOT EXISTS filetype (
  filetype_id INTEGER PRIMARY KEY AUTOINCREMENT,
  filetype_name TEXT NOT NULL,
  UNIQUE (filetype_name)
);

CREATE TABLE IF NOT EXISTS file_size (
  file_size_id INTEGER PRIMARY KEY AUTOINCREMENT,
  directory_id INTEGER NOT NULL,
  filetype_id INTEGER NOT NULL,
  size REAL,
  FOREIGN KEY (directory_id) REFERENCES directory(directory_id) ON DELETE CASCADE,
  FOREIGN KEY (filetype_id) REFERENCES filetype(filetype_id)
);
CREATE INDEX IF NOT EXISTS file_size_directory_id ON file_size (directory_id);

CREATE TABLE IF NOT EXISTS inspection (
  volume_id INTEGER NOT NULL,
  snapshot_date DATE NOT NULL,
  loaded_at DATETIME NOT NULL,
  PRIMARY KEY (volume_id),
  FOREIGN KEY (volume_id) REFERENCES volume(volume_id)
);

INSERT OR IGNORE INTO filetype (filetype_name) VALUES ('BAM');
INSERT OR IGNORE INTO filetype (filetype_name) VALUES ('CRAM');
INSERT OR IGNORE INTO filetype (filetype_name) VALUES ('VCF');
INSERT OR IGNORE INTO filetype (filetype_name) VALUES ('PEDBED');

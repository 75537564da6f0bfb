-- The schema lurge created before schema versions were tracked (MySQL/MariaDB), verbatim:
-- the CREATE statements its db/schema.py ran, then its filetype seed.  Frozen: never edit.

CREATE TABLE IF NOT EXISTS pi (
  pi_id BIGINT NOT NULL AUTO_INCREMENT,
  pi_name TEXT NOT NULL,
  PRIMARY KEY (pi_id),
  UNIQUE KEY pi_unique (pi_name(255))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS unix_group (
  group_id BIGINT NOT NULL AUTO_INCREMENT,
  group_name TEXT NOT NULL,
  is_humgen BOOL NOT NULL,
  PRIMARY KEY (group_id),
  UNIQUE KEY unix_group_unique (group_name(255), is_humgen)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS volume (
  volume_id BIGINT NOT NULL AUTO_INCREMENT,
  scratch_disk TEXT NOT NULL,
  PRIMARY KEY (volume_id),
  UNIQUE KEY volume_unique (scratch_disk(255))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS lustre_usage (
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS directory (
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS filetype (
  filetype_id BIGINT NOT NULL AUTO_INCREMENT,
  filetype_name TEXT NOT NULL,
  PRIMARY KEY (filetype_id),
  UNIQUE KEY filetype_unique (filetype_name(255))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS file_size (
  file_size_id BIGINT NOT NULL AUTO_INCREMENT,
  directory_id BIGINT NOT NULL,
  filetype_id BIGINT NOT NULL,
  size DOUBLE,
  PRIMARY KEY (file_size_id),
  KEY file_size_directory_id (directory_id),
  FOREIGN KEY (directory_id) REFERENCES directory(directory_id) ON DELETE CASCADE,
  FOREIGN KEY (filetype_id) REFERENCES filetype(filetype_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS inspection (
  volume_id BIGINT NOT NULL,
  snapshot_date DATE NOT NULL,
  loaded_at DATETIME NOT NULL,
  PRIMARY KEY (volume_id),
  FOREIGN KEY (volume_id) REFERENCES volume(volume_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

INSERT IGNORE INTO filetype (filetype_name) VALUES ('BAM');
INSERT IGNORE INTO filetype (filetype_name) VALUES ('CRAM');
INSERT IGNORE INTO filetype (filetype_name) VALUES ('VCF');
INSERT IGNORE INTO filetype (filetype_name) VALUES ('PEDBED');

#!/usr/bin/env bash
# group_splitter_cron.sh — submit the nightly group split (split, getent dumps, S3 upload) to LSF:
#
#     <python> <repo>/group_splitter.py [--config "$LURGE_CONFIG"] [ARGUMENT...]
#
# as job "lurge-splitter" (bsub), or run it here with LURGE_LOCAL=1.
#
#     group_splitter_cron.sh [--help] [--] [ARGUMENT...]
#
# --help prints the variables below with their defaults and submits nothing.
# ARGUMENTs (e.g. --no-upload, --date 20240105, -v) go to group_splitter.py
# unchanged; they are checked with its own parser before anything is submitted.
# Exits with bsub's status (the job's own status when local); 1 when bsub is
# not available; 2 for bad arguments or settings.
#
# Environment (all optional):
#   LURGE_LSF_PROFILE  LSF profile sourced first when it exists (default /usr/local/lsf/conf/profile.lsf)
#   LURGE_LOCAL        1: run the job here, in the foreground, instead of submitting it
#   LURGE_QUEUE        queue, bsub -q (default normal)
#   LURGE_LSF_GROUP    fairshare group, bsub -G (default hgi)
#   LURGE_CORES        cores, bsub -n (default 2)
#   LURGE_MEMORY_MB    memory in MB, bsub -M and -R "select[mem>M] rusage[mem=M] span[hosts=1]"
#                      (default 8000)
#   LURGE_LOG_DIR      where lurge-splitter-<YYYYMMDD>.out/.err go
#                      (default $LURGE_REPORT_DIR/logs, else <repo>/logs; created)
#   LURGE_REPORT_DIR   see LURGE_LOG_DIR
#   LURGE_PYTHON       python to run (default <repo>/.venv/bin/python if present, else python3)
#   LURGE_CONFIG       configuration file, passed on as --config (default: none given; the
#                      job then reads ./lurge.toml in its working directory)
#   AWS_*              S3 credentials for the upload (boto3's usual chain; ~/.aws also works)
#
# Example crontab line (more in docs/production.md):
#   30 7 * * * /software/hgi/lurge/group_splitter_cron.sh >>/var/log/lurge-cron.log 2>&1

set -euo pipefail

lurge_here=${BASH_SOURCE[0]%/*}
if [[ $lurge_here == "${BASH_SOURCE[0]}" ]]; then lurge_here=.; fi
# shellcheck source=utils/common/lsf.sh
source "$lurge_here/utils/common/lsf.sh"

lurge_main lurge-splitter 8000 2 group_splitter.py -- "$@"

# shellcheck shell=bash
# utils/common/lsf.sh — shared by cron.sh and group_splitter_cron.sh (source it; do not run it).
#
# lurge_submit JOB DEFAULT_MEMORY_MB DEFAULT_CORES SCRIPT [ARG...]
#   Runs `<python> <repo>/SCRIPT ARG... [--config "$LURGE_CONFIG"]` as LSF job JOB
#   with bsub, or in the foreground with LURGE_LOCAL=1.  Returns bsub's exit status
#   (or the command's, when local).  Safe under `set -euo pipefail`.
#
# Environment (all optional):
#   LURGE_LSF_PROFILE  LSF profile sourced first when it exists
#                      (default /usr/local/lsf/conf/profile.lsf)
#   LURGE_LOCAL        1: run the job here, in the foreground, instead of submitting it
#   LURGE_QUEUE        queue, bsub -q (default normal)
#   LURGE_LSF_GROUP    fairshare group, bsub -G (default hgi)
#   LURGE_CORES        cores, bsub -n (default: the job's, see the calling script)
#   LURGE_MEMORY_MB    memory in MB, bsub -M and -R "select[mem>M] rusage[mem=M]"
#                      (default: the job's)
#   LURGE_LOG_DIR      directory for the job's <job>-<YYYYMMDD>.out/.err
#                      (default $LURGE_REPORT_DIR/logs, else <repo>/logs; created)
#   LURGE_REPORT_DIR   see LURGE_LOG_DIR
#   LURGE_PYTHON       python to run (default <repo>/.venv/bin/python if present, else python3)
#   LURGE_CONFIG       configuration file, passed on as --config (default: none given, so
#                      the script falls back to $LURGE_CONFIG / ./lurge.toml itself)
#
# Only bash builtins plus `date` and `mkdir` are used.

lurge_lib_dir=${BASH_SOURCE[0]%/*}
if [[ $lurge_lib_dir == "${BASH_SOURCE[0]}" ]]; then lurge_lib_dir=.; fi
LURGE_REPO_DIR=$(cd -- "$lurge_lib_dir/../.." && pwd)
unset lurge_lib_dir
LURGE_DEFAULT_LSF_PROFILE=/usr/local/lsf/conf/profile.lsf

# lurge_error MESSAGE: print MESSAGE on stderr.
lurge_error() {
    printf 'lurge: %s\n' "$1" >&2
}

# lurge_source_lsf_profile: source the LSF profile if it exists (it may use unset
# variables or fail harmlessly, so -e and -u are relaxed while it runs).
lurge_source_lsf_profile() {
    local profile=${LURGE_LSF_PROFILE:-$LURGE_DEFAULT_LSF_PROFILE}
    local flags=$-
    if [[ -r $profile ]]; then
        set +eu
        # shellcheck source=/dev/null
        . "$profile"
        if [[ $flags == *e* ]]; then set -e; fi
        if [[ $flags == *u* ]]; then set -u; fi
    fi
    return 0
}

# lurge_python: the python that runs the job.
lurge_python() {
    if [[ -n ${LURGE_PYTHON:-} ]]; then
        printf '%s\n' "$LURGE_PYTHON"
    elif [[ -x $LURGE_REPO_DIR/.venv/bin/python ]]; then
        printf '%s\n' "$LURGE_REPO_DIR/.venv/bin/python"
    else
        printf '%s\n' python3
    fi
}

# lurge_log_dir: where job logs go (not created here).
lurge_log_dir() {
    if [[ -n ${LURGE_LOG_DIR:-} ]]; then
        printf '%s\n' "$LURGE_LOG_DIR"
    elif [[ -n ${LURGE_REPORT_DIR:-} ]]; then
        printf '%s\n' "$LURGE_REPORT_DIR/logs"
    else
        printf '%s\n' "$LURGE_REPO_DIR/logs"
    fi
}

# lurge_positive_integer NAME VALUE: fail (status 2) unless VALUE is a positive integer.
lurge_positive_integer() {
    if [[ ! $2 =~ ^[1-9][0-9]*$ ]]; then
        lurge_error "$1 must be a positive integer (got '$2')"
        return 2
    fi
}

lurge_submit() {
    local job=$1 default_memory=$2 default_cores=$3 script=$4
    shift 4
    local -a command
    command=("$(lurge_python)" "$LURGE_REPO_DIR/$script" "$@")
    if [[ -n ${LURGE_CONFIG:-} ]]; then
        command+=(--config "$LURGE_CONFIG")
    fi
    lurge_source_lsf_profile

    if [[ ${LURGE_LOCAL:-} == 1 ]]; then
        local status=0
        "${command[@]}" || status=$?
        return "$status"
    fi

    if ! command -v bsub >/dev/null 2>&1; then
        local profile=${LURGE_LSF_PROFILE:-$LURGE_DEFAULT_LSF_PROFILE}
        lurge_error "cannot submit $job: bsub is not on PATH (LSF profile: $profile); set LURGE_LOCAL=1 to run it here instead"
        return 1
    fi
    local memory=${LURGE_MEMORY_MB:-$default_memory}
    local cores=${LURGE_CORES:-$default_cores}
    lurge_positive_integer LURGE_MEMORY_MB "$memory" || return
    lurge_positive_integer LURGE_CORES "$cores" || return
    local log_dir stamp
    log_dir=$(lurge_log_dir)
    stamp=$(date +%Y%m%d)
    if ! mkdir -p -- "$log_dir"; then
        lurge_error "cannot create the log directory $log_dir"
        return 1
    fi
    local status=0
    bsub -J "$job" -q "${LURGE_QUEUE:-normal}" -G "${LURGE_LSF_GROUP:-hgi}" \
        -n "$cores" -M "$memory" -R "select[mem>$memory] rusage[mem=$memory] span[hosts=1]" \
        -o "$log_dir/$job-$stamp.out" -e "$log_dir/$job-$stamp.err" \
        "${command[@]}" || status=$?
    if [[ $status -ne 0 ]]; then
        lurge_error "bsub failed to submit $job (exit status $status)"
    fi
    return "$status"
}

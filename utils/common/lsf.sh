# shellcheck shell=bash
# utils/common/lsf.sh — shared by cron.sh and group_splitter_cron.sh (source it; do not run it).
#
# lurge_main JOB DEFAULT_MEMORY_MB DEFAULT_CORES SCRIPT [FIXED_ARG...] -- [WRAPPER_ARG...]
#   The whole wrapper: WRAPPER_ARGs are the wrapper's own command line.  -h/--help
#   prints the wrapper's usage and variables and submits nothing; every other
#   argument (all of them after a `--`) is passed on to SCRIPT after its
#   FIXED_ARGs.  Before submitting, the passed arguments are checked with
#   SCRIPT's own parser, so a mistyped option fails now (status 2), not in the
#   night.  Then runs `<python> <repo>/SCRIPT FIXED_ARG... [--config "$LURGE_CONFIG"]
#   ARG...` as LSF job JOB with bsub, or in the foreground with LURGE_LOCAL=1.
#   Returns bsub's exit status (or the command's, when local).  Safe under
#   `set -euo pipefail`.
#
# Environment (all optional): see lurge_variables below, or run a wrapper with --help.
#
# Only bash builtins plus `date` and `mkdir` are used (and the job's python to
# check passed arguments).

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

# lurge_variables DEFAULT_MEMORY_MB DEFAULT_CORES JOB: one line per variable:
# NAME<TAB>default<TAB>meaning.
lurge_variables() {
    local tab=$'\t'
    printf '%s\n' \
        "LURGE_LOCAL${tab}unset${tab}1: run the job here, in the foreground, instead of submitting it" \
        "LURGE_QUEUE${tab}normal${tab}LSF queue (bsub -q)" \
        "LURGE_LSF_GROUP${tab}hgi${tab}LSF fairshare group (bsub -G)" \
        "LURGE_CORES${tab}$2${tab}cores (bsub -n)" \
        "LURGE_MEMORY_MB${tab}$1${tab}memory in MB (bsub -M, -R \"select[mem>M] rusage[mem=M] span[hosts=1]\")" \
        "LURGE_LOG_DIR${tab}\$LURGE_REPORT_DIR/logs, else $LURGE_REPO_DIR/logs${tab}where $3-<YYYYMMDD>.out/.err go (created)" \
        "LURGE_REPORT_DIR${tab}unset${tab}see LURGE_LOG_DIR" \
        "LURGE_PYTHON${tab}$LURGE_REPO_DIR/.venv/bin/python if present, else python3${tab}the python that runs the job" \
        "LURGE_CONFIG${tab}unset (the job reads ./lurge.toml)${tab}configuration file, passed on as --config" \
        "LURGE_LSF_PROFILE${tab}$LURGE_DEFAULT_LSF_PROFILE${tab}LSF profile sourced first when it exists"
}

# lurge_help JOB DEFAULT_MEMORY_MB DEFAULT_CORES WRAPPER SCRIPT [FIXED_ARG...]: the usage text.
lurge_help() {
    local job=$1 default_memory=$2 default_cores=$3 wrapper=$4 script=$5
    shift 5
    local fixed=${*:+ $*}
    printf 'usage: %s [--help] [--] [ARGUMENT...]\n\n' "$wrapper"
    printf 'Submits %s%s to LSF as job "%s" (bsub), or runs it here with LURGE_LOCAL=1:\n\n' \
        "$script" "$fixed" "$job"
    printf '    <python> %s/%s%s [--config "$LURGE_CONFIG"] [ARGUMENT...]\n\n' \
        "$LURGE_REPO_DIR" "$script" "$fixed"
    printf 'ARGUMENTs (e.g. --date 20240105, -v) go to %s unchanged; before anything is\n' "$script"
    printf 'submitted they are checked with %s'"'"'s own parser (`%s --help` lists them).\n' \
        "$script" "$script"
    printf 'Exit status: bsub'"'"'s (the job'"'"'s own when local); 1 without bsub; 2 for bad arguments.\n\n'
    printf 'Environment (all optional):\n'
    local name default meaning current
    while IFS=$'\t' read -r name default meaning; do
        current=""
        if [[ -n ${!name:-} ]]; then current="  [now: ${!name}]"; fi
        printf '  %-18s %s\n  %-18s   default: %s%s\n' "$name" "$meaning" "" "$default" "$current"
    done < <(lurge_variables "$default_memory" "$default_cores" "$job")
    printf '\nSee docs/production.md for the crontab lines and LSF set-up.\n'
}

# lurge_check_arguments COMMAND...: run COMMAND with LURGE_CHECK_ARGUMENTS=1 (parse, then exit).
lurge_check_arguments() {
    local status=0
    LURGE_CHECK_ARGUMENTS=1 "$@" >/dev/null || status=$?
    if [[ $status -eq 2 ]]; then
        lurge_error "nothing submitted: ${2##*/} does not accept these arguments (see above)"
    elif [[ $status -ne 0 ]]; then
        lurge_error "nothing submitted: could not check the arguments with $1 (exit status $status)"
    fi
    return "$status"
}

lurge_main() {
    local job=$1 default_memory=$2 default_cores=$3 script=$4
    shift 4
    local -a fixed=() passed=()
    while [[ $# -gt 0 && $1 != -- ]]; do
        fixed+=("$1")
        shift
    done
    if [[ $# -gt 0 ]]; then shift; fi
    while [[ $# -gt 0 ]]; do
        case $1 in
            -h | --help)
                lurge_help "$job" "$default_memory" "$default_cores" "${0##*/}" "$script" \
                    ${fixed[@]+"${fixed[@]}"}
                return 0
                ;;
            --)
                shift
                passed+=("$@")
                break
                ;;
            *)
                passed+=("$1")
                shift
                ;;
        esac
    done
    lurge_submit "$job" "$default_memory" "$default_cores" "$script" ${fixed[@]+"${fixed[@]}"} \
        -- ${passed[@]+"${passed[@]}"}
}

# lurge_submit JOB DEFAULT_MEMORY_MB DEFAULT_CORES SCRIPT [FIXED_ARG...] [-- ARG...]
lurge_submit() {
    local job=$1 default_memory=$2 default_cores=$3 script=$4
    shift 4
    local -a command passed=()
    command=("$(lurge_python)" "$LURGE_REPO_DIR/$script")
    while [[ $# -gt 0 && $1 != -- ]]; do
        command+=("$1")
        shift
    done
    if [[ $# -gt 0 ]]; then
        shift
        passed=("$@")
    fi
    if [[ -n ${LURGE_CONFIG:-} ]]; then
        command+=(--config "$LURGE_CONFIG")
    fi
    command+=(${passed[@]+"${passed[@]}"})
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
    if [[ ${#passed[@]} -gt 0 ]]; then
        lurge_check_arguments "${command[@]}" || return
    fi
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

# Shared helpers of deploy/dev/stack.sh (sourced, bash). Logging, secrets, processes, waiting.

log()  { printf '[stack] %s\n' "$*" >&2; }
warn() { printf '[stack] WARNING: %s\n' "$*" >&2; }
die()  { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

# php_quote VALUE -> a single-quoted PHP string literal
php_quote() { local s=${1//\\/\\\\}; s=${s//\'/\\\'}; printf "'%s'" "$s"; }
# sql_quote VALUE -> a single-quoted SQL string literal
sql_quote() { local s=${1//\\/\\\\}; s=${s//\'/\'\'}; printf "'%s'" "$s"; }
# xml_escape VALUE -> VALUE with & < > escaped
xml_escape() { local s=${1//&/'&amp;'}; s=${s//</'&lt;'}; s=${s//>/'&gt;'}; printf '%s' "$s"; }
# sql_ident NAME -> a backquoted SQL identifier
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

# gen_password LENGTH [CHARSET] -> random string of characters from CHARSET (tr syntax,
# default A-Za-z0-9)
gen_password() {
    local len=${1:-24} set=${2:-A-Za-z0-9} pw=""
    while ((${#pw} < len)); do
        pw+=$(head -c 256 /dev/urandom | LC_ALL=C tr -dc "$set")
    done
    printf '%s' "${pw:0:len}"
}

# write_if_changed FILE MODE < content: replaces FILE only when the content differs.
# Returns 0 when the file was (re)written, 1 when it was already up to date.
write_if_changed() {
    local file=$1 mode=${2:-644} tmp
    tmp=$(mktemp "${file}.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if [[ -f $file ]] && cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$file"
    return 0
}

# ---------------------------------------------------------------- secrets
# Secrets live in $SPACE_DEV_STATE/secrets.env (mode 600) as NAME='value' lines.
SECRETS_FILE=""

secrets_init() {
    SECRETS_FILE="$SPACE_DEV_STATE/secrets.env"
    [[ -f $SECRETS_FILE ]] || { : >"$SECRETS_FILE"; }
    chmod 600 "$SECRETS_FILE"
}

# secret_get NAME -> stored value (empty if none)
secret_get() {
    local name=$1 line
    line=$(grep -m1 "^${name}=" "$SECRETS_FILE" 2>/dev/null || true)
    [[ -n $line ]] || return 0
    line=${line#*=}
    line=${line#\'}
    line=${line%\'}
    printf '%s' "${line//\'\\\'\'/\'}"
}

secret_put() {
    local name=$1 value=$2 tmp
    tmp=$(mktemp "$SECRETS_FILE.XXXXXX")
    grep -v "^${name}=" "$SECRETS_FILE" >"$tmp" || true
    printf "%s='%s'\n" "$name" "${value//\'/\'\\\'\'}" >>"$tmp"
    chmod 600 "$tmp"
    mv -f "$tmp" "$SECRETS_FILE"
}

# secret_ensure NAME LENGTH [CHARSET]: the variable NAME ends up set. Precedence: a non-empty value from
# the environment / settings.env, then the stored one, then a newly generated one. The result is
# stored, so the next `up` gets the same.
secret_ensure() {
    local name=$1 len=${2:-24} set=${3:-A-Za-z0-9} value stored
    value=${!name:-}
    stored=$(secret_get "$name")
    if [[ -z $value ]]; then
        value=$stored
        [[ -n $value ]] || value=$(gen_password "$len" "$set")
    fi
    [[ $value == "$stored" ]] || secret_put "$name" "$value"
    printf -v "$name" '%s' "$value"
    export "${name?}"
}

# ---------------------------------------------------------------- processes
# Every process the stack starts runs in its own session (setsid), so its process group id is
# its pid; $RUN/NAME.pid holds the pid and $RUN/NAME.cmd the command line it was started with
# (plus a signature of its configuration), to recognise it and to restart it when it changes.

# proc_running PID: the process exists and is not a zombie (a zombie has exited; init reaps it)
proc_running() {
    [[ -d /proc/$1 ]] || return 1
    [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

proc_argv0() { [[ -r /proc/$1/cmdline ]] && tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n1; }

# svc_pid NAME -> pid of the running process started under NAME (exit 1 if none)
svc_pid() {
    local name=$1 pid argv0 want
    [[ -f $RUN/$name.pid ]] || return 1
    pid=$(<"$RUN/$name.pid")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    proc_running "$pid" || return 1
    argv0=$(proc_argv0 "$pid")
    want=$(head -n1 "$RUN/$name.cmd" 2>/dev/null || true)
    [[ -n $argv0 && $argv0 == "$want" ]] || return 1
    printf '%s' "$pid"
}

svc_clear() { rm -f "$RUN/$1.pid" "$RUN/$1.cmd" "$RUN/$1.sig"; }

# svc_adopt NAME CMD ARGS...: finds a session leader running exactly CMD ARGS without a pid file
# (e.g. the state dir was removed while the stack ran) and records it as NAME. Returns 1 if none.
svc_adopt() {
    local name=$1; shift
    local want p cmdline
    want=$(printf '%s\n' "$@")
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $(awk '{print $5}' "/proc/$p/stat" 2>/dev/null) == "$p" ]] || continue
        cmdline=$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null) || continue
        if [[ $cmdline == "$want" ]] && proc_running "$p"; then
            printf '%s\n' "$p" >"$RUN/$name.pid"
            printf '%s\n' "$@" >"$RUN/$name.cmd"
            : >"$RUN/$name.sig"
            log "$name: found the stack's process $p without a pid file (state dir removed?)"
            return 0
        fi
    done
    return 1
}

# svc_reclaim NAME CMD ARGS...: svc_adopt, then stop it
svc_reclaim() { svc_adopt "$@" && svc_stop "$1"; }

# svc_free_port NAME HOST PORT HINT CMD ARGS...: dies with a clear message when HOST:PORT is taken
# by something else than the process NAME would start.
svc_free_port() {
    local name=$1 host=$2 port=$3 hint=$4; shift 4
    svc_pid "$name" >/dev/null && return 0
    port_open "$host" "$port" || return 0
    if svc_reclaim "$name" "$@"; then
        local i
        for ((i = 0; i < 50; i++)); do port_open "$host" "$port" || return 0; sleep 0.1; done
    fi
    die "port $port on $host is already in use by another program (see: ss -ltnp 'sport = :$port')$hint"
}

# svc_start NAME SIGNATURE CMD ARGS...: starts CMD in a new session, logging to $LOG/NAME.log.
# Leaves a running NAME alone when it was started with the same command and signature,
# restarts it when either changed. Sets SVC_STARTED=1 when it started the process.
SVC_STARTED=0
svc_start() {
    local name=$1 sig=$2; shift 2
    local pid
    SVC_STARTED=0
    if pid=$(svc_pid "$name"); then
        if [[ "$(cat "$RUN/$name.sig" 2>/dev/null)" == "$sig" &&
            "$(cat "$RUN/$name.cmd" 2>/dev/null)" == "$(printf '%s\n' "$@")" ]]; then
            return 0
        fi
        log "$name: configuration changed, restarting"
        svc_stop "$name"
    fi
    svc_clear "$name"
    # keep logs bounded (php -S logs every request)
    if [[ -f $LOG/$name.log ]] && (($(stat -c %s "$LOG/$name.log") > 20 * 1024 * 1024)); then
        mv -f "$LOG/$name.log" "$LOG/$name.log.1"
    fi
    printf '%s\n' "$@" >"$RUN/$name.cmd"
    printf '%s' "$sig" >"$RUN/$name.sig"
    printf '\n==== %s starting: %s\n' "$(date -Is)" "$*" >>"$LOG/$name.log"
    (
        cd /
        exec 9>&- # the stack's lock must not outlive this script
        exec setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null
    ) &
    pid=$!
    printf '%s\n' "$pid" >"$RUN/$name.pid"
    SVC_STARTED=1
}

# svc_stop NAME [TIMEOUT]: TERM to the process group, then KILL after TIMEOUT seconds.
svc_stop() {
    local name=$1 timeout=${2:-15} pid pgid i
    if ! pid=$(svc_pid "$name"); then
        svc_clear "$name"
        return 0
    fi
    pgid=$(awk '{print $5}' "/proc/$pid/stat" 2>/dev/null || true)
    if [[ $pgid == "$pid" ]]; then
        kill -TERM -- "-$pid" 2>/dev/null || true
    else
        kill -TERM "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < timeout * 10; i++)); do
        proc_running "$pid" || break
        sleep 0.1
    done
    if proc_running "$pid"; then
        warn "$name (pid $pid) did not stop within ${timeout}s, killing it"
        if [[ $pgid == "$pid" ]]; then kill -KILL -- "-$pid" 2>/dev/null || true; else kill -KILL "$pid" 2>/dev/null || true; fi
        sleep 0.5
    fi
    # leftover members of the group (e.g. php -S workers)
    if [[ $pgid == "$pid" ]] && pgrep -g "$pid" >/dev/null 2>&1; then
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    svc_clear "$name"
    log "$name stopped (pid $pid)"
}

# ---------------------------------------------------------------- waiting / probing

# port_open HOST PORT: something accepts TCP connections there
port_open() {
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# http_ok URL [CURL ARGS...]: URL answers with a 2xx status
http_ok() {
    local url=$1; shift
    curl -fsS -o /dev/null -m 10 "$@" "$url" 2>/dev/null
}

# wait_for NAME SECONDS COMMAND ARGS...: retries COMMAND until it succeeds; fails early if the
# process started under NAME (if any) dies.
wait_for() {
    local name=$1 secs=$2; shift 2
    local deadline=$((SECONDS + secs)) had_pid=0
    [[ -f $RUN/$name.pid ]] && had_pid=1
    while :; do
        "$@" && return 0
        if ((had_pid)) && ! svc_pid "$name" >/dev/null; then
            show_log "$name"
            die "$name exited while starting (log: $LOG/$name.log)"
        fi
        ((SECONDS < deadline)) || { show_log "$name"; die "$name did not answer within ${secs}s (log: $LOG/$name.log)"; }
        sleep 0.3
    done
}

show_log() {
    local f="$LOG/$1.log"
    [[ -f $f ]] || return 0
    printf '[stack] ---- last lines of %s\n' "$f" >&2
    tail -n 25 "$f" >&2
    printf '[stack] ----\n' >&2
}

# run_logged NAME COMMAND...: runs COMMAND with its output appended to $LOG/NAME.log; on failure
# shows the end of the log and dies.
run_logged() {
    local name=$1; shift
    printf '\n==== %s: %s\n' "$(date -Is)" "$*" >>"$LOG/$name.log"
    if ! "$@" >>"$LOG/$name.log" 2>&1; then
        show_log "$name"
        die "$name: command failed: $1 ... (log: $LOG/$name.log)"
    fi
}

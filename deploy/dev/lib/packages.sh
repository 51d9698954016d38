# Debian packages of the dev stack (sourced by stack.sh).

APT_RAN=0

packages_missing() {
    local p st
    for p in $SPACE_DEV_APT_PACKAGES; do
        st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [[ $st == installed ]] || printf '%s\n' "$p"
    done
}

apt_lists_fresh() {
    local newest
    compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || return 1
    newest=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mtime "-$SPACE_DEV_APT_MAX_AGE_DAYS" -print -quit)
    [[ -n $newest ]]
}

# A pid from a pid file, if that process is alive.
_live_pid_from() { local p; [[ -r $1 ]] && p=$(<"$1") && [[ $p =~ ^[0-9]+$ && -d /proc/$p ]] && printf '%s' "$p"; }

ensure_packages() {
    local -a missing
    mapfile -t missing < <(packages_missing)
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "packages missing (${missing[*]}) and not root: run as root or install them: apt-get install ${missing[*]}"
    command -v apt-get >/dev/null || die "packages missing (${missing[*]}) and no apt-get"
    log "installing Debian packages: ${missing[*]}"
    local t0=$SECONDS

    # Keep the packages' init scripts from starting daemons (apache2, ngircd on 6667, mariadb):
    # the stack starts what it needs itself. Only a policy-rc.d we created is removed again.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# temporary, written by space-bridge deploy/dev/stack.sh during apt-get install\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    local ngircd_before mysql_before apache_before
    ngircd_before=$(_live_pid_from /run/ngircd/ngircd.pid || true)
    apache_before=$(_live_pid_from /run/apache2/apache2.pid || true)
    mysql_before=$(_live_pid_from /run/mysqld/mysqld.pid || true)

    local -a apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    local rc=0
    export DEBIAN_FRONTEND=noninteractive
    {
        if ! apt_lists_fresh; then
            log "apt-get update (package lists missing or older than $SPACE_DEV_APT_MAX_AGE_DAYS days)"
            apt-get update -q >>"$LOG/apt.log" 2>&1 || warn "apt-get update failed (see $LOG/apt.log)"
        fi
        if ! apt-get install "${apt_opts[@]}" "${missing[@]}" >>"$LOG/apt.log" 2>&1; then
            log "apt-get install failed; retrying after apt-get update"
            apt-get update -q >>"$LOG/apt.log" 2>&1 || true
            apt-get install "${apt_opts[@]}" "${missing[@]}" >>"$LOG/apt.log" 2>&1 || rc=$?
        fi
    }
    ((made_policy)) && rm -f "$policy"
    APT_RAN=1

    # Daemons that a package's postinst may have started anyway (e.g. where invoke-rc.d ignores
    # policy-rc.d): stop what was not running before.
    local p
    if p=$(_live_pid_from /run/ngircd/ngircd.pid) && [[ $p != "$ngircd_before" ]]; then
        log "stopping the packaged ngircd daemon started by its postinst (pid $p)"
        /etc/init.d/ngircd stop >>"$LOG/apt.log" 2>&1 || kill "$p" 2>/dev/null || true
    fi
    if p=$(_live_pid_from /run/apache2/apache2.pid) && [[ $p != "$apache_before" ]]; then
        log "stopping apache2 started by its postinst (pid $p); the stack uses php -S"
        /etc/init.d/apache2 stop >>"$LOG/apt.log" 2>&1 || kill "$p" 2>/dev/null || true
    fi
    if p=$(_live_pid_from /run/mysqld/mysqld.pid) && [[ $p != "$mysql_before" ]]; then
        log "MariaDB was started by its postinst (pid $p); stopping it so the stack starts its own"
        /etc/init.d/mariadb stop >>"$LOG/apt.log" 2>&1 || kill "$p" 2>/dev/null || true
        local i
        for ((i = 0; i < 300 && -d /proc/$p; i++)); do sleep 0.2; done
    fi

    if ((rc != 0)); then
        tail -n 30 "$LOG/apt.log" >&2
        die "apt-get install failed (log: $LOG/apt.log)"
    fi
    mapfile -t missing < <(packages_missing)
    ((${#missing[@]} == 0)) || die "still not installed after apt-get: ${missing[*]} (log: $LOG/apt.log)"
    log "packages installed in $((SECONDS - t0))s"
}

# MariaDB for WordPress (sourced by stack.sh). A MariaDB that already runs is used as it is and
# never stopped; one that `up` starts is recorded in $RUN/mariadb.pid and stopped by `down`.

mariadb_ping() { "$SPACE_DEV_MYSQLADMIN" --connect-timeout=2 ping >/dev/null 2>&1; }

# mysql_root SQL: runs SQL as the MariaDB root user (socket auth)
mysql_root() { "$SPACE_DEV_MYSQL" --batch --skip-column-names -e "$1"; }

# How the stack runs mariadbd: --log-error in the state dir also tells it from a MariaDB started
# otherwise (e.g. by the machine), which the stack must never stop.
mariadb_cmd() { printf '%s\n' "$SPACE_DEV_MARIADBD" --user=mysql "--log-error=$LOG/mariadb.log"; }

mariadb_up() {
    local -a cmd
    mapfile -t cmd < <(mariadb_cmd)
    if svc_pid mariadb >/dev/null; then
        wait_for mariadb "$SPACE_DEV_WAIT" mariadb_ping
        return 0
    fi
    svc_clear mariadb
    if mariadb_ping; then
        svc_adopt mariadb "${cmd[@]}" ||
            log "MariaDB already running (not started by the stack: down leaves it alone)"
        return 0
    fi
    # A mariadbd that is still starting (pid file of a live process): wait for it.
    local p
    if p=$(_live_pid_from /run/mysqld/mysqld.pid) && [[ $(proc_argv0 "$p") == *mariadbd* || $(proc_argv0 "$p") == *mysqld* ]]; then
        log "MariaDB (pid $p, not the stack's) is starting; waiting for it"
        local deadline=$((SECONDS + SPACE_DEV_WAIT))
        until mariadb_ping; do
            ((SECONDS < deadline)) || die "MariaDB (pid $p) does not answer; check it or stop it"
            sleep 0.5
        done
        return 0
    fi

    [[ -x $SPACE_DEV_MARIADBD ]] || die "MariaDB server not found at $SPACE_DEV_MARIADBD"
    install -d -o mysql -g mysql -m 755 /run/mysqld
    if [[ ! -d $SPACE_DEV_MARIADB_DATADIR/mysql ]]; then
        log "initialising the MariaDB data directory $SPACE_DEV_MARIADB_DATADIR"
        run_logged mariadb mariadb-install-db --user=mysql --datadir="$SPACE_DEV_MARIADB_DATADIR" --auth-root-authentication-method=socket
    fi
    log "starting MariaDB"
    svc_start mariadb "" "${cmd[@]}"
    wait_for mariadb "$SPACE_DEV_WAIT" mariadb_ping
}

mariadb_down() {
    if svc_pid mariadb >/dev/null; then
        svc_stop mariadb 120
    else
        svc_clear mariadb
    fi
}

mariadb_status() {
    mariadb_ping
}

# The WordPress database and its own user (socket and TCP), password kept in sync.
mariadb_wordpress_db() {
    local db user pw
    db=$(sql_ident "$SPACE_DEV_WP_DB_NAME")
    user=$(sql_quote "$SPACE_DEV_WP_DB_USER")
    pw=$(sql_quote "$SPACE_DEV_WP_DB_PASSWORD")
    mysql_root "SELECT 1" >/dev/null 2>&1 ||
        die "cannot log in to MariaDB as root over its socket with '$SPACE_DEV_MYSQL' (set SPACE_DEV_MYSQL, e.g. 'mariadb --defaults-file=/path/to/root.cnf')"
    local sql="CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci;"
    local host
    for host in localhost 127.0.0.1; do
        sql+="CREATE USER IF NOT EXISTS $user@'$host' IDENTIFIED BY $pw;"
        sql+="ALTER USER $user@'$host' IDENTIFIED BY $pw;"
        sql+="GRANT ALL PRIVILEGES ON $db.* TO $user@'$host';"
    done
    mysql_root "$sql" || die "could not create the WordPress database/user in MariaDB"
}

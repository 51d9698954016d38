#!/usr/bin/env bash
# Local stack of real platforms for space-bridge development and tests:
# WordPress 6.1 (+ MariaDB), MediaWiki 1.39 (SQLite) and ngircd, from Debian's packages.
#
#   bash deploy/dev/stack.sh up      install what is missing, start, wait, write $SPACE_DEV_STATE/stack.json
#   bash deploy/dev/stack.sh status  exit 0 when every service answers
#   bash deploy/dev/stack.sh check   log in to each platform with the bridge's credentials
#   bash deploy/dev/stack.sh down    stop what `up` started (and nothing else)
#
# Settings: deploy/dev/settings.env (every value can be overridden from the environment).
set -Eeuo pipefail

STACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPACE_DEV_REPO=$(cd "$STACK_DIR/../.." && pwd)
export SPACE_DEV_REPO

set -a
# shellcheck source=settings.env
. "$STACK_DIR/settings.env"
set +a
SPACE_DEV_STATE=$(realpath -m "$SPACE_DEV_STATE")
export SPACE_DEV_STATE
RUN="$SPACE_DEV_STATE/run"
LOG="$SPACE_DEV_STATE/log"
STACK_JSON="$SPACE_DEV_STATE/stack.json"

for _lib in common packages mariadb wordpress mediawiki ngircd; do
    # shellcheck source=/dev/null
    . "$STACK_DIR/lib/$_lib.sh"
done

trap 'rc=$?; printf "[stack] ERROR: command failed (exit %s) at %s:%s: %s\n" "$rc" "${BASH_SOURCE[0]##*/}" "$LINENO" "$BASH_COMMAND" >&2; exit $rc' ERR

prepare_state() {
    install -d -m 700 "$SPACE_DEV_STATE"
    install -d -m 700 "$RUN" "$LOG"
}

# Serialises up/down (fd 9; closed in the processes the stack starts).
take_lock() {
    exec 9>"$SPACE_DEV_STATE/stack.lock"
    flock -w 900 9 || die "another stack.sh up/down holds $SPACE_DEV_STATE/stack.lock"
}

load_secrets() {
    secrets_init
    secret_ensure SPACE_DEV_WP_ADMIN_PASSWORD 24
    secret_ensure SPACE_DEV_WP_APP_PASSWORD 24
    secret_ensure SPACE_DEV_WP_DB_PASSWORD 24
    secret_ensure SPACE_DEV_MW_ADMIN_PASSWORD 24
    # MediaWiki only takes a bot password as such when it is 32+ characters of [0-9a-w]
    # (BotPassword::canonicalizeLoginData), like the ones Special:BotPasswords generates.
    secret_ensure SPACE_DEV_MW_BOT_PASSWORD 32 0-9a-w
    [[ $SPACE_DEV_MW_BOT_PASSWORD =~ ^[0-9a-w]{32,}$ ]] ||
        die "SPACE_DEV_MW_BOT_PASSWORD must be at least 32 characters of [0-9a-w] (MediaWiki's bot password format)"
    secret_ensure SPACE_DEV_IRC_OPER_PASSWORD 24
}

check_all() {
    wp_check
    log "check: WordPress REST (Basic auth, Application Password) and XML-RPC (admin password) ok"
    mw_check
    log "check: MediaWiki api.php login as $SPACE_DEV_MW_ADMIN_USER@$SPACE_DEV_MW_BOT_APPID ok"
    irc_check
    log "check: IRC register + JOIN ok"
}

print_urls() {
    cat <<EOF
[stack] up in $((SECONDS - T0))s. State: $SPACE_DEV_STATE (credentials in $STACK_JSON)
  WordPress  $(wp_url)/          admin: $(wp_url)/wp-admin/  user $SPACE_DEV_WP_ADMIN_USER
             REST $(wp_url)/wp-json   XML-RPC $(wp_url)/xmlrpc.php
  MediaWiki  $(mw_url)/          API: $(mw_url)/api.php  user $SPACE_DEV_MW_ADMIN_USER, bot $SPACE_DEV_MW_ADMIN_USER@$SPACE_DEV_MW_BOT_APPID
  IRC        irc://$SPACE_DEV_HOST:$SPACE_DEV_IRC_PORT   server $SPACE_DEV_IRC_SERVER_NAME
EOF
}

cmd_up() {
    T0=$SECONDS
    prepare_state
    take_lock
    ensure_packages
    load_secrets

    mariadb_up
    mariadb_wordpress_db

    wp_write_config
    wp_install_mu_plugins
    wp_setup
    wp_start

    mw_setup
    mw_start

    irc_start

    wp_wait
    mw_wait
    irc_wait

    check_all

    "$SPACE_DEV_PHP" "$STACK_DIR/lib/stack-json.php" "$STACK_JSON"
    print_urls
}

cmd_down() {
    prepare_state
    take_lock
    local any=0 name
    for name in wordpress mediawiki ngircd mariadb; do
        [[ -f $RUN/$name.pid ]] && any=1
    done
    wp_down
    mw_down
    irc_down
    mariadb_down
    ((any)) || log "nothing to stop (no process started by the stack is running)"
    log "down"
}

cmd_status() {
    local rc=0 who
    _status_line() { # NAME OK? DETAIL
        printf '%-10s %-5s %s\n' "$1" "$2" "$3"
    }
    if command -v "$SPACE_DEV_MYSQLADMIN" >/dev/null && mariadb_ping; then
        who="system"; svc_pid mariadb >/dev/null 2>&1 && who="started by the stack"
        _status_line mariadb up "($who)"
    else
        _status_line mariadb down ""; rc=1
    fi
    if command -v curl >/dev/null && wp_answers; then _status_line wordpress up "$(wp_url)"; else _status_line wordpress down "$(wp_url)"; rc=1; fi
    if command -v curl >/dev/null && mw_answers; then _status_line mediawiki up "$(mw_url)"; else _status_line mediawiki down "$(mw_url)"; rc=1; fi
    if irc_answers; then _status_line irc up "$SPACE_DEV_HOST:$SPACE_DEV_IRC_PORT"; else _status_line irc down "$SPACE_DEV_HOST:$SPACE_DEV_IRC_PORT"; rc=1; fi
    if [[ ! -f $STACK_JSON ]]; then
        _status_line stack.json missing "$STACK_JSON"; rc=1
    fi
    return $rc
}

cmd_check() {
    prepare_state
    load_secrets
    check_all
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) if cmd_status; then exit 0; else exit 1; fi ;;
    check) cmd_check ;;
    *)
        echo "usage: bash deploy/dev/stack.sh up|down|status|check" >&2
        exit 2
        ;;
esac

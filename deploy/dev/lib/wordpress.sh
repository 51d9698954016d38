# WordPress 6.1 from Debian's package, served by `php -S` (sourced by stack.sh).

wp_url() { printf 'http://%s:%s' "$SPACE_DEV_HOST" "$SPACE_DEV_WP_PORT"; }

# The DiscourseConnect secret WordPress shares with the bridge: the file deploy/dev/devconfig.py
# keeps for wordpress.sites[local].connect_secret (created here when `up` runs first).
wp_sso_secret() {
    local f="$SPACE_DEV_STATE/secrets/wordpress_connect_secret"
    if [[ ! -s $f ]]; then
        install -d -m 700 "$SPACE_DEV_STATE/secrets"
        (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$f")
    fi
    tr -d '[:space:]' <"$f"
}

# Debian's /usr/share/wordpress/wp-config.php loads /etc/wordpress/config-<host>.php, <host> being
# the HTTP Host header without the port.
wp_write_config() {
    local url host f changed=0
    url=$(wp_url)
    install -d -m 755 "$SPACE_DEV_WP_CONFIG_DIR"
    local content
    content=$(cat <<EOF
<?php
// Written by space-bridge deploy/dev/stack.sh on every \`up\` (settings: deploy/dev/settings.env).
// Local development only. Do not edit: changes are overwritten.
define('DB_NAME', $(php_quote "$SPACE_DEV_WP_DB_NAME"));
define('DB_USER', $(php_quote "$SPACE_DEV_WP_DB_USER"));
define('DB_PASSWORD', $(php_quote "$SPACE_DEV_WP_DB_PASSWORD"));
define('DB_HOST', $(php_quote "$SPACE_DEV_WP_DB_HOST"));
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
\$table_prefix = $(php_quote "$SPACE_DEV_WP_TABLE_PREFIX");
define('WP_HOME', $(php_quote "$url"));
define('WP_SITEURL', $(php_quote "$url"));
define('WP_CONTENT_DIR', $(php_quote "$SPACE_DEV_WP_CONTENT_DIR"));
define('WP_CONTENT_URL', $(php_quote "$url/wp-content"));
// Application Passwords over plain http need the 'local' environment type.
define('WP_ENVIRONMENT_TYPE', 'local');
define('WP_DEFAULT_THEME', $(php_quote "$SPACE_DEV_WP_THEME"));
define('WP_DEBUG', false);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('FS_METHOD', 'direct');
define('WP_HTTP_BLOCK_EXTERNAL', $( ((SPACE_DEV_WP_BLOCK_EXTERNAL)) && echo true || echo false));
// Wikimedia login through the bridge (deploy/wordpress/space-bridge/sso.php). A test may set
// these constants first in $(basename "$SPACE_DEV_WP_SSO_OVERRIDE") beside this file (tests/sso and tests/browser
// write it, with the values in a .json beside it, and remove both); the rest get the dev values.
if (is_readable($(php_quote "$SPACE_DEV_WP_SSO_OVERRIDE"))) { include $(php_quote "$SPACE_DEV_WP_SSO_OVERRIDE"); }
defined('SPACE_BRIDGE_SSO_URL') || define('SPACE_BRIDGE_SSO_URL', $(php_quote "$SPACE_DEV_WP_SSO_URL"));
defined('SPACE_BRIDGE_SSO_SECRET') || define('SPACE_BRIDGE_SSO_SECRET', $(php_quote "$(wp_sso_secret)"));
defined('SPACE_BRIDGE_LOGOUT_URL') || define('SPACE_BRIDGE_LOGOUT_URL', $(php_quote "$SPACE_DEV_WP_SSO_LOGOUT_URL"));
// The blog's search form goes to the bridge's /search when set (deploy/wordpress/space-bridge-search.php).
defined('SPACE_BRIDGE_SEARCH_URL') || define('SPACE_BRIDGE_SEARCH_URL', $(php_quote "$SPACE_DEV_WP_SEARCH_URL"));
defined('SPACE_BRIDGE_SEARCH_SCOPE') || define('SPACE_BRIDGE_SEARCH_SCOPE', $(php_quote "$SPACE_DEV_WP_SEARCH_SCOPE"));
$( [[ -n $SPACE_DEV_WP_SSO_ROLES ]] && printf "defined('SPACE_BRIDGE_ROLES') || define('SPACE_BRIDGE_ROLES', %s);" "$(php_quote "$SPACE_DEV_WP_SSO_ROLES")")
EOF
)
    for host in "$SPACE_DEV_HOST" localhost; do
        f="$SPACE_DEV_WP_CONFIG_DIR/config-$host.php"
        if printf '%s\n' "$content" | write_if_changed "$f" 640; then changed=1; fi
    done
    ((changed)) && log "wrote $SPACE_DEV_WP_CONFIG_DIR/config-{$SPACE_DEV_HOST,localhost}.php"
    return 0
}

wp_mu_plugins_dir() { printf '%s/mu-plugins' "$SPACE_DEV_WP_CONTENT_DIR"; }

# Links every deploy/wordpress/*.php into mu-plugins (edits show up at once); removes links of
# ours whose target is gone.
wp_install_mu_plugins() {
    local dir src dst link n=0
    dir=$(wp_mu_plugins_dir)
    install -d -m 755 "$dir"
    for link in "$dir"/*.php; do
        [[ -L $link ]] || continue
        dst=$(readlink "$link")
        if [[ $dst == "$SPACE_DEV_WP_MU_PLUGINS_SRC"/* && ! -e $link ]]; then
            rm -f "$link"
            log "removed stale mu-plugin link $(basename "$link")"
        fi
    done
    [[ -d $SPACE_DEV_WP_MU_PLUGINS_SRC ]] || return 0
    for src in "$SPACE_DEV_WP_MU_PLUGINS_SRC"/*.php; do
        [[ -f $src ]] || continue
        dst="$dir/$(basename "$src")"
        if [[ -L $dst && $(readlink "$dst") == "$src" ]]; then
            n=$((n + 1))
            continue
        fi
        ln -sfn "$src" "$dst"
        n=$((n + 1))
        log "mu-plugin $(basename "$src") -> $dst"
    done
    return 0
}

# Runs deploy/dev/wordpress/setup.php: installs WordPress when needed, sets admin password,
# options, permalinks and the bridge's Application Password.
wp_setup() {
    local out="$SPACE_DEV_STATE/wordpress/setup.json"
    install -d -m 700 "$SPACE_DEV_STATE/wordpress"
    rm -f "$out"
    printf '\n==== %s: setup.php\n' "$(date -Is)" >>"$LOG/wordpress-setup.log"
    if ! SB_URL="$(wp_url)" SB_OUT="$out" \
        "$SPACE_DEV_PHP" -d display_errors=stderr -d memory_limit="$SPACE_DEV_PHP_MEMORY_LIMIT" \
        "$STACK_DIR/wordpress/setup.php" >>"$LOG/wordpress-setup.log" 2>&1 || [[ ! -s $out ]]; then
        show_log wordpress-setup
        die "WordPress setup failed (log: $LOG/wordpress-setup.log)"
    fi
    local msg
    while IFS= read -r msg; do [[ -n $msg ]] && log "wordpress: $msg"; done \
        < <("$SPACE_DEV_PHP" -r '$j = json_decode(file_get_contents($argv[1]), true); foreach ($j["actions"] ?? [] as $a) echo $a, "\n";' "$out")
    return 0
}

wp_start() {
    local ini=(-d display_errors=0 -d log_errors=1 -d "error_log=$LOG/wordpress-php.log"
        -d "memory_limit=$SPACE_DEV_PHP_MEMORY_LIMIT" -d "upload_max_filesize=$SPACE_DEV_PHP_UPLOAD_MAX"
        -d "post_max_size=$SPACE_DEV_PHP_UPLOAD_MAX" -d max_execution_time=300)
    local cmd=("$SPACE_DEV_PHP" "${ini[@]}" -S "$SPACE_DEV_HOST:$SPACE_DEV_WP_PORT" -t "$SPACE_DEV_WP_ROOT" "$STACK_DIR/wordpress/router.php")
    svc_free_port wordpress "$SPACE_DEV_HOST" "$SPACE_DEV_WP_PORT" "; stop it or set SPACE_DEV_WP_PORT" "${cmd[@]}"
    SPACE_DEV_WP_CONTENT_DIR="$SPACE_DEV_WP_CONTENT_DIR" PHP_CLI_SERVER_WORKERS="$SPACE_DEV_PHP_WORKERS" \
        svc_start wordpress "workers=$SPACE_DEV_PHP_WORKERS" "${cmd[@]}"
    ((SVC_STARTED)) && log "started WordPress on $(wp_url) (pid $(<"$RUN/wordpress.pid"))"
    return 0
}

wp_answers() { http_ok "$(wp_url)/wp-json/"; }

wp_wait() { wait_for wordpress "$SPACE_DEV_WAIT" wp_answers; }

wp_down() { svc_stop wordpress; }

# Checks that the bridge's credentials work: REST with Basic auth (admin + Application Password)
# and XML-RPC with the admin password.
wp_check() {
    local url body
    url=$(wp_url)
    body=$(curl -fsS -m 20 -u "$SPACE_DEV_WP_ADMIN_USER:$SPACE_DEV_WP_APP_PASSWORD" "$url/wp-json/wp/v2/users/me?context=edit" 2>&1) ||
        die "WordPress REST with the Application Password failed: $body"
    [[ $body == *'"administrator"'* ]] || die "WordPress REST: unexpected answer for users/me: ${body:0:300}"
    local xml
    xml="<?xml version=\"1.0\"?><methodCall><methodName>wp.getUsersBlogs</methodName><params><param><value><string>$(xml_escape "$SPACE_DEV_WP_ADMIN_USER")</string></value></param><param><value><string>$(xml_escape "$SPACE_DEV_WP_ADMIN_PASSWORD")</string></value></param></params></methodCall>"
    body=$(curl -fsS -m 20 -H 'Content-Type: text/xml' --data-binary "$xml" "$url/xmlrpc.php" 2>&1) ||
        die "WordPress XML-RPC request failed: $body"
    [[ $body == *isAdmin* && $body != *faultCode* ]] || die "WordPress XML-RPC wp.getUsersBlogs failed: ${body:0:300}"
}

<?php
/**
 * Idempotent set-up of the dev WordPress (run by deploy/dev/stack.sh `up` with php-cli):
 * installs WordPress when its tables are missing, keeps the admin account's password, the site
 * options and permalinks as configured, and makes sure the bridge's Application Password exists.
 *
 * Input: environment variables (SPACE_DEV_* from settings.env, SB_HTTP_HOST, SB_URL, SB_OUT).
 * Output: a JSON report written to $SB_OUT (stdout may carry WordPress notices).
 */

function sb_env(string $name, ?string $default = null): string {
    $v = getenv($name);
    if ($v === false || $v === '') {
        if ($default === null) {
            fwrite(STDERR, "setup.php: environment variable $name is missing\n");
            exit(2);
        }
        return $default;
    }
    return $v;
}

$http_host  = sb_env('SB_HTTP_HOST');
$url        = sb_env('SB_URL');
$out        = sb_env('SB_OUT');
$title      = sb_env('SPACE_DEV_WP_TITLE');
$admin      = sb_env('SPACE_DEV_WP_ADMIN_USER');
$email      = sb_env('SPACE_DEV_WP_ADMIN_EMAIL');
$password   = sb_env('SPACE_DEV_WP_ADMIN_PASSWORD');
$app_name   = sb_env('SPACE_DEV_WP_APP_NAME');
$app_plain  = preg_replace('/[^a-z\d]/i', '', sb_env('SPACE_DEV_WP_APP_PASSWORD'));
$permalinks = sb_env('SPACE_DEV_WP_PERMALINKS');
$theme      = sb_env('SPACE_DEV_WP_THEME');
$wp_root    = rtrim(sb_env('SPACE_DEV_WP_ROOT'), '/');

// What a web request would carry: Debian's wp-config.php picks the config file by HTTP_HOST.
$_SERVER['HTTP_HOST']       = $http_host;
$_SERVER['SERVER_NAME']     = preg_replace('/:.*/', '', $http_host);
$_SERVER['SERVER_PORT']     = parse_url($url, PHP_URL_PORT) ?: 80;
$_SERVER['REQUEST_URI']     = '/';
$_SERVER['REQUEST_METHOD']  = 'GET';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
$_SERVER['REMOTE_ADDR']     = '127.0.0.1';

// Lets wp-load.php run before the tables exist (no redirect to the installer).
define('WP_INSTALLING', true);

// Pluggable: wp_install() would mail the admin. No mail in the dev stack.
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password) {
}

require $wp_root . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
// The same Application Password rule as the wordpress role's (one file for both).
require_once __DIR__ . '/../../../ansible/roles/wordpress/files/application-password.php';

$actions = [];
$fail = function (string $msg) {
    fwrite(STDERR, "setup.php: $msg\n");
    exit(1);
};

// --- install
if (!is_blog_installed()) {
    // wp_install() tries a loopback request to check pretty permalinks; that only costs a refused
    // connection here. The structure is set below anyway.
    $result = wp_install($title, $admin, $email, false, '', wp_slash($password));
    if (is_wp_error($result) || empty($result['user_id'])) {
        $fail('wp_install failed: ' . (is_wp_error($result) ? $result->get_error_message() : json_encode($result)));
    }
    $actions[] = "installed WordPress $GLOBALS[wp_version] (db " . DB_NAME . ')';
} else {
    // Tables of an older WordPress version (after a package upgrade)?
    $db_version = (int) get_option('db_version');
    if ($db_version && $db_version < (int) $GLOBALS['wp_db_version']) {
        wp_upgrade();
        $actions[] = "upgraded the database from db_version $db_version";
    }
}

// --- admin account
$user = get_user_by('login', $admin);
if (!$user) {
    $uid = wp_create_user($admin, $password, $email);
    if (is_wp_error($uid)) {
        $fail('could not create user ' . $admin . ': ' . $uid->get_error_message());
    }
    $user = get_user_by('id', $uid);
    $actions[] = "created user $admin";
}
if (!in_array('administrator', (array) $user->roles, true)) {
    $user->set_role('administrator');
    $actions[] = "made $admin an administrator";
}
if (!wp_check_password($password, $user->user_pass, $user->ID)) {
    wp_set_password($password, $user->ID);
    $user = get_user_by('id', $user->ID);
    $actions[] = "set the password of $admin";
}

// --- options
$options = [
    'siteurl'          => $url,
    'home'             => $url,
    'blogname'         => $title,
    'blog_public'      => '0',
    'default_pingback_flag' => '0',
    'default_ping_status'   => 'closed',
];
foreach ($options as $name => $value) {
    if ((string) get_option($name) !== (string) $value) {
        update_option($name, $value);
        $actions[] = "option $name = $value";
    }
}

// --- permalinks: without them /wp-json/ redirects; rewrite rules are dropped on every run and
// rebuilt by WordPress on the next request, so post types of edited mu-plugins get theirs.
global $wp_rewrite;
if (get_option('permalink_structure') !== $permalinks) {
    $wp_rewrite->set_permalink_structure($permalinks);
    $actions[] = "permalink structure $permalinks";
}
delete_option('rewrite_rules');

// --- theme
$current = wp_get_theme();
if (!$current->exists() || $current->errors()) {
    $wanted = wp_get_theme($theme);
    if ($wanted->exists()) {
        switch_theme($wanted->get_stylesheet());
        $actions[] = "theme $theme";
    }
}

// --- the bridge's Application Password: exactly one entry named $app_name whose password is
// $app_plain (generated by stack.sh and kept in the state dir).
if (!wp_is_application_passwords_available()) {
    $fail('Application Passwords are not available (WP_ENVIRONMENT_TYPE must be local, or https)');
}
try {
    array_push($actions, ...space_bridge_ensure_application_password($user, $app_name, $app_plain));
} catch (RuntimeException $e) {
    $fail($e->getMessage());
}

$report = [
    'wp_version' => $GLOBALS['wp_version'],
    'user_id'    => $user->ID,
    'mu_plugins' => array_map('basename', wp_get_mu_plugins()),
    'actions'    => $actions,
];
if (file_put_contents($out, json_encode($report, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n") === false) {
    $fail("cannot write $out");
}

<?php
/**
 * Steps of WordPress provisioning shared by the wordpress role's provision.php and the local
 * stack's deploy/dev/wordpress/setup.php. Each returns what it changed (empty: nothing), so
 * both report only real changes. Include it before wp-load.php: it replaces the installer's
 * pluggable wp_new_blog_notification(), which would mail the admin a password.
 */

if (!function_exists('wp_new_blog_notification')) {
    function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password) {
    }
}

/**
 * Makes this php-cli run look like a web request to $url, before wp-load.php: Debian's
 * /usr/share/wordpress/wp-config.php picks /etc/wordpress/config-<host>.php by HTTP_HOST, and
 * HTTPS=on makes is_ssl() true, which Application Passwords need on a non-local site
 * (wp_is_application_passwords_supported()). WP_INSTALLING keeps wp-load.php from sending the
 * run to the installer while the tables are missing.
 */
function space_bridge_pretend_request(string $url): void {
    $parts = parse_url($url);
    $https = ($parts['scheme'] ?? '') === 'https';
    $default_port = $https ? 443 : 80;
    $port = $parts['port'] ?? $default_port;
    $_SERVER['HTTP_HOST']       = $parts['host'] . ($port == $default_port ? '' : ":$port");
    $_SERVER['SERVER_NAME']     = $parts['host'];
    $_SERVER['SERVER_PORT']     = $port;
    $_SERVER['REQUEST_URI']     = '/';
    $_SERVER['REQUEST_METHOD']  = 'GET';
    $_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
    $_SERVER['REMOTE_ADDR']     = '127.0.0.1';
    if ($https) {
        $_SERVER['HTTPS'] = 'on';
    }
    if (!defined('WP_INSTALLING')) {
        define('WP_INSTALLING', true);
    }
}

/**
 * Sets each option that differs from the wanted value.
 *
 * @param array<string, string> $options
 * @return string[] actions taken
 */
function space_bridge_ensure_options(array $options): array {
    $actions = [];
    foreach ($options as $name => $value) {
        if ((string) get_option($name) !== (string) $value) {
            update_option($name, $value);
            $actions[] = "option $name = $value";
        }
    }
    return $actions;
}

/**
 * Gives a WordPress account exactly one Application Password named $name whose value is $plain.
 *
 * WordPress generates Application Passwords itself
 * (WP_Application_Passwords::create_new_application_password) and stores only
 * wp_hash_password() of the value in user meta; replacing that hash is what lets the vault (or
 * the local stack's state folder) stay the one source of the secret. Other entries of the same
 * name, or one whose value differs, are deleted. Returns what it changed, for the caller's report.
 *
 * @return string[] actions taken (empty: nothing changed)
 */
function space_bridge_ensure_application_password(WP_User $user, string $name, string $plain): array {
    // WordPress shows these in groups of four; the spaces are not part of the password
    // (wp_authenticate_application_password strips them).
    $plain = preg_replace('/[^a-z\d]/i', '', $plain);
    $actions = [];
    $kept = null;
    $dropped = 0;
    foreach (WP_Application_Passwords::get_user_application_passwords($user->ID) as $item) {
        if ($item['name'] !== $name) {
            continue;
        }
        if ($kept === null && wp_check_password($plain, $item['password'], $user->ID)) {
            $kept = $item['uuid'];
        } else {
            WP_Application_Passwords::delete_application_password($user->ID, $item['uuid']);
            $dropped++;
        }
    }
    if ($dropped) {
        $actions[] = "removed $dropped outdated Application Password(s) '$name' of {$user->user_login}";
    }
    if ($kept !== null) {
        return $actions;
    }
    $created = WP_Application_Passwords::create_new_application_password($user->ID, ['name' => $name]);
    if (is_wp_error($created)) {
        throw new RuntimeException('could not create the Application Password: ' . $created->get_error_message());
    }
    $uuid = $created[1]['uuid'];
    $items = WP_Application_Passwords::get_user_application_passwords($user->ID);
    foreach ($items as $i => $item) {
        if ($item['uuid'] === $uuid) {
            $items[$i]['password'] = wp_hash_password($plain);
        }
    }
    update_user_meta($user->ID, WP_Application_Passwords::USERMETA_KEY_APPLICATION_PASSWORDS, $items);
    $actions[] = "set the Application Password '$name' of {$user->user_login}";
    return $actions;
}

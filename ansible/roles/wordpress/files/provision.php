<?php
/**
 * Brings a WordPress site to the state the wordpress role promises, and reports what it changed
 * (Ansible's changed=, so a second run reports nothing). Run with php-cli as root:
 *
 *   SB_SETTINGS_JSON='{...}' php provision.php
 *
 * Settings (a JSON object in the environment, so no file ever holds the passwords): url, title,
 * admin_user, admin_email, admin_password, bridge_user, bridge_email, app_name, app_password,
 * permalinks, pages [{slug, title, content}], wp_root.
 *
 * Prints one line "SPACE-BRIDGE-PROVISION <json>" with {"actions": [...]} (WordPress may print
 * notices before it). Never prints a password.
 *
 * What it does, each step only when needed:
 * - wp_install() when the tables are missing; wp_upgrade() after a package upgrade (the same
 *   check wp-admin/upgrade.php makes: db_version < $wp_db_version).
 * - The first administrator: created with admin_password only when missing (a password changed
 *   later by its owner is kept).
 * - The bridge's account, an editor, with exactly one Application Password named app_name whose
 *   value is app_password (provisioning.php, beside this file, says how).
 * - Site options (siteurl, home, blogname, permalinks, no pingbacks, no open registration).
 * - Pages that must exist (code of conduct, editorial guidelines): created as published when no
 *   page has their slug; never overwritten, editors own their text after that.
 */

function sb_fail(string $msg): void {
    fwrite(STDERR, "provision.php: $msg\n");
    exit(1);
}

$s = json_decode((string) getenv('SB_SETTINGS_JSON'), true);
if (!is_array($s)) {
    sb_fail('SB_SETTINGS_JSON must hold the settings, a JSON object');
}
foreach (['url', 'title', 'admin_user', 'admin_email', 'admin_password', 'bridge_user', 'bridge_email',
          'app_name', 'app_password', 'permalinks', 'pages', 'wp_root'] as $key) {
    if (!array_key_exists($key, $s) || $s[$key] === '' || $s[$key] === null) {
        sb_fail("settings: '$key' is missing or empty");
    }
}
if (!is_array($s['pages']) || !array_is_list($s['pages'])) {
    sb_fail("settings: 'pages' must be a list of {slug, title, content}");
}
foreach ($s['pages'] as $i => $page) {
    foreach (['slug', 'title', 'content'] as $key) {
        if (!is_array($page) || !is_string($page[$key] ?? null) || $page[$key] === '') {
            sb_fail("settings: pages[$i].$key is missing or not text");
        }
    }
}

$url = rtrim($s['url'], '/');
$parts = parse_url($url);
if (!$parts || ($parts['scheme'] ?? '') !== 'https' || empty($parts['host'])) {
    sb_fail("settings: url must be https://host[:port], not '$url'");
}
require_once __DIR__ . '/provisioning.php';
space_bridge_pretend_request($url);
require rtrim($s['wp_root'], '/') . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

$actions = [];

// --- install or upgrade the tables
if (!is_blog_installed()) {
    $result = wp_install($s['title'], $s['admin_user'], $s['admin_email'], false, '', wp_slash($s['admin_password']));
    if (is_wp_error($result) || empty($result['user_id'])) {
        sb_fail('wp_install failed: ' . (is_wp_error($result) ? $result->get_error_message() : json_encode($result)));
    }
    $actions[] = "installed WordPress {$GLOBALS['wp_version']}";
} elseif ((int) get_option('db_version') < (int) $GLOBALS['wp_db_version']) {
    $from = get_option('db_version');
    wp_upgrade();
    $actions[] = "upgraded the database from db_version $from";
}

// --- the first administrator
$admin = get_user_by('login', $s['admin_user']);
if (!$admin) {
    $uid = wp_insert_user([
        'user_login' => $s['admin_user'],
        'user_pass'  => $s['admin_password'],
        'user_email' => $s['admin_email'],
        'role'       => 'administrator',
    ]);
    if (is_wp_error($uid)) {
        sb_fail("could not create {$s['admin_user']}: " . $uid->get_error_message());
    }
    $actions[] = "created the administrator {$s['admin_user']}";
}

// --- the bridge's account and its Application Password
$bridge = get_user_by('login', $s['bridge_user']);
if (!$bridge) {
    $uid = wp_insert_user([
        'user_login' => $s['bridge_user'],
        'user_pass'  => wp_generate_password(32, true, true),  // logs in with the Application Password only
        'user_email' => $s['bridge_email'],
        'role'       => 'editor',
        'display_name' => 'Space bridge',
    ]);
    if (is_wp_error($uid)) {
        sb_fail("could not create {$s['bridge_user']}: " . $uid->get_error_message());
    }
    $bridge = get_user_by('id', $uid);
    $actions[] = "created the bridge's account {$s['bridge_user']}";
}
if (!in_array('editor', (array) $bridge->roles, true) && !in_array('administrator', (array) $bridge->roles, true)) {
    $bridge->set_role('editor');
    $actions[] = "made {$s['bridge_user']} an editor";
}
if (!wp_is_application_passwords_available_for_user($bridge)) {
    sb_fail("Application Passwords are not available for {$s['bridge_user']} (a plugin or wp_is_application_passwords_available filter turns them off)");
}
try {
    $actions = array_merge($actions, space_bridge_ensure_application_password($bridge, $s['app_name'], $s['app_password']));
} catch (RuntimeException $e) {
    sb_fail($e->getMessage());
}

// --- site options
$options = [
    'siteurl'               => $url,
    'home'                  => $url,
    'blogname'              => $s['title'],
    'default_pingback_flag' => '0',
    'default_ping_status'   => 'closed',
    'users_can_register'    => '0',
    'default_role'          => 'subscriber',
];
$actions = array_merge($actions, space_bridge_ensure_options($options));
global $wp_rewrite;
if (get_option('permalink_structure') !== $s['permalinks']) {
    $wp_rewrite->set_permalink_structure($s['permalinks']);
    flush_rewrite_rules(false);
    $actions[] = "permalink structure {$s['permalinks']}";
}

// --- pages that must exist
foreach ($s['pages'] as $page) {
    $existing = get_posts([
        'name' => $page['slug'], 'post_type' => 'page', 'numberposts' => 1,
        // 'any' leaves out the trash: a trashed page keeps its slug, and a new one would get slug-2.
        'post_status' => ['publish', 'future', 'draft', 'pending', 'private', 'trash'],
    ]);
    if ($existing) {
        continue;
    }
    $id = wp_insert_post([
        'post_type'    => 'page',
        'post_status'  => 'publish',
        'post_name'    => $page['slug'],
        'post_title'   => $page['title'],
        'post_content' => $page['content'],
        'post_author'  => get_user_by('login', $s['admin_user'])->ID,
    ], true);
    if (is_wp_error($id)) {
        sb_fail("could not create the page {$page['slug']}: " . $id->get_error_message());
    }
    $actions[] = "created the page {$page['slug']}";
}

echo "\nSPACE-BRIDGE-PROVISION " . json_encode(['actions' => $actions], JSON_UNESCAPED_SLASHES) . "\n";

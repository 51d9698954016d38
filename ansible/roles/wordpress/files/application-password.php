<?php
/**
 * Gives a WordPress account exactly one Application Password named $name whose value is $plain.
 * Shared by the wordpress role's provision.php and the local stack's deploy/dev/wordpress/setup.php.
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

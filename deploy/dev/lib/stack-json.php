<?php
// Usage: php stack-json.php OUTFILE -- writes the stack description from the SPACE_DEV_*
// environment (set by stack.sh) atomically to OUTFILE.
$e = function (string $name): string {
    $v = getenv($name);
    return $v === false ? '' : $v;
};
$host = $e('SPACE_DEV_HOST');
$wp = "http://$host:" . $e('SPACE_DEV_WP_PORT');
$mw = "http://$host:" . $e('SPACE_DEV_MW_PORT');

$stack = [
    'wordpress' => [
        'url' => $wp,
        'rest_url' => "$wp/wp-json",
        'xmlrpc_url' => "$wp/xmlrpc.php",
        'admin_user' => $e('SPACE_DEV_WP_ADMIN_USER'),
        'admin_password' => $e('SPACE_DEV_WP_ADMIN_PASSWORD'),
        'app_password' => $e('SPACE_DEV_WP_APP_PASSWORD'),
        'db_name' => $e('SPACE_DEV_WP_DB_NAME'),
        'admin_email' => $e('SPACE_DEV_WP_ADMIN_EMAIL'),
        'mu_plugins_dir' => rtrim($e('SPACE_DEV_WP_CONTENT_DIR'), '/') . '/mu-plugins',
    ],
    'mediawiki' => [
        'url' => $mw,
        'api_url' => "$mw/api.php",
        'admin_user' => $e('SPACE_DEV_MW_ADMIN_USER'),
        'admin_password' => $e('SPACE_DEV_MW_ADMIN_PASSWORD'),
        'bot_user' => $e('SPACE_DEV_MW_ADMIN_USER') . '@' . $e('SPACE_DEV_MW_BOT_APPID'),
        'bot_password' => $e('SPACE_DEV_MW_BOT_PASSWORD'),
        'rest_url' => "$mw/rest.php",
        'index_url' => "$mw/index.php",
    ],
    'irc' => [
        'host' => $host,
        'port' => (int) $e('SPACE_DEV_IRC_PORT'),
        'server_name' => $e('SPACE_DEV_IRC_SERVER_NAME'),
        'oper_user' => $e('SPACE_DEV_IRC_OPER_USER'),
        'oper_password' => $e('SPACE_DEV_IRC_OPER_PASSWORD'),
        'max_nick_length' => (int) $e('SPACE_DEV_IRC_NICK_LEN'),
    ],
];
$out = $argv[1];
$tmp = $out . '.tmp' . getmypid();
if (file_put_contents($tmp, json_encode($stack, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n") === false
    || !chmod($tmp, 0600) || !rename($tmp, $out)) {
    fwrite(STDERR, "cannot write $out\n");
    exit(1);
}

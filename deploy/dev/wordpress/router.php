<?php
/**
 * Router of `php -S` for Debian's WordPress (deploy/dev/stack.sh):
 *  - real files under the document root (/usr/share/wordpress) are served as they are
 *    (wp-login.php, xmlrpc.php, wp-admin/..., static assets);
 *  - /wp-content/... comes from WP_CONTENT_DIR (/var/lib/wordpress/wp-content in Debian), where
 *    themes, uploads and mu-plugins live;
 *  - everything else (pretty permalinks, /wp-json/...) goes to index.php.
 */

$root = rtrim($_SERVER['DOCUMENT_ROOT'], '/');
$content_dir = rtrim(getenv('SPACE_DEV_WP_CONTENT_DIR') ?: '/var/lib/wordpress/wp-content', '/');
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');

if (strpos($path, "\0") !== false || preg_match('#(^|/)\.\.(/|$)#', $path)) {
    http_response_code(400);
    return true;
}

function sb_run_php(string $file, string $script_name): bool {
    $_SERVER['SCRIPT_FILENAME'] = $file;
    $_SERVER['SCRIPT_NAME'] = $script_name;
    $_SERVER['PHP_SELF'] = $script_name;
    chdir(dirname($file));
    require $file;
    return true;
}

function sb_send_static(string $file): bool {
    static $types = [
        'css' => 'text/css', 'js' => 'application/javascript', 'mjs' => 'application/javascript',
        'json' => 'application/json', 'map' => 'application/json', 'svg' => 'image/svg+xml',
        'png' => 'image/png', 'jpg' => 'image/jpeg', 'jpeg' => 'image/jpeg', 'gif' => 'image/gif',
        'webp' => 'image/webp', 'avif' => 'image/avif', 'ico' => 'image/x-icon', 'woff' => 'font/woff',
        'woff2' => 'font/woff2', 'ttf' => 'font/ttf', 'otf' => 'font/otf', 'txt' => 'text/plain',
        'html' => 'text/html', 'htm' => 'text/html', 'xml' => 'application/xml', 'pdf' => 'application/pdf',
        'mp3' => 'audio/mpeg', 'ogg' => 'audio/ogg', 'mp4' => 'video/mp4', 'webm' => 'video/webm',
        'zip' => 'application/zip',
    ];
    $ext = strtolower(pathinfo($file, PATHINFO_EXTENSION));
    $type = $types[$ext] ?? (function_exists('mime_content_type') ? (mime_content_type($file) ?: 'application/octet-stream') : 'application/octet-stream');
    header('Content-Type: ' . $type);
    header('Content-Length: ' . filesize($file));
    header('Last-Modified: ' . gmdate('D, d M Y H:i:s', filemtime($file)) . ' GMT');
    if ($_SERVER['REQUEST_METHOD'] !== 'HEAD') {
        readfile($file);
    }
    return true;
}

// wp-content from WP_CONTENT_DIR
if ($path === '/wp-content' || strncmp($path, '/wp-content/', 12) === 0) {
    $file = $content_dir . substr($path, strlen('/wp-content'));
    if (is_file($file)) {
        if (strtolower(pathinfo($file, PATHINFO_EXTENSION)) === 'php') {
            return sb_run_php($file, $path);
        }
        return sb_send_static($file);
    }
}

// real files and directories with an index.php under the document root
$file = $root . $path;
if ($path !== '/' && is_file($file)) {
    return false;
}
if ($path !== '/' && is_dir($file) && is_file(rtrim($file, '/') . '/index.php')) {
    if (substr($path, -1) !== '/') {
        $qs = $_SERVER['QUERY_STRING'] ?? '';
        header('Location: ' . $path . '/' . ($qs !== '' ? '?' . $qs : ''), true, 301);
        return true;
    }
    return false;
}

// the front controller
return sb_run_php($root . '/index.php', '/index.php');

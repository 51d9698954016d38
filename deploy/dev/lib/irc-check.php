<?php
// Usage: php irc-check.php HOST PORT [CHANNEL]
// Connects, registers (NICK/USER), joins CHANNEL, parts and quits. Exit 0 on success.
$host = $argv[1] ?? '127.0.0.1';
$port = (int) ($argv[2] ?? 6667);
$channel = $argv[3] ?? '#stack-check';
$nick = 'stackcheck' . random_int(1000, 9999);

$sock = @stream_socket_client("tcp://$host:$port", $errno, $errstr, 5);
if (!$sock) {
    fwrite(STDERR, "connect to $host:$port failed: $errstr\n");
    exit(1);
}
stream_set_timeout($sock, 2);
fwrite($sock, "NICK $nick\r\nUSER $nick 0 * :space-bridge stack check\r\n");

$deadline = microtime(true) + 15;
$registered = false;
while (microtime(true) < $deadline) {
    $line = fgets($sock, 4096);
    if ($line === false) {
        if (feof($sock)) {
            fwrite(STDERR, "server closed the connection\n");
            exit(1);
        }
        continue;
    }
    $line = rtrim($line, "\r\n");
    $parts = explode(' ', $line);
    if ($parts[0] === 'PING') {
        fwrite($sock, 'PONG ' . ($parts[1] ?? '') . "\r\n");
        continue;
    }
    if ($parts[0] === 'ERROR') {
        fwrite(STDERR, "server error: $line\n");
        exit(1);
    }
    $code = $parts[1] ?? '';
    if ($code === '001' && !$registered) {
        $registered = true;
        fwrite($sock, "JOIN $channel\r\n");
    } elseif ($code === '366') { // end of NAMES: joined
        fwrite($sock, "PART $channel\r\nQUIT :bye\r\n");
        echo "registered as $nick and joined $channel\n";
        exit(0);
    } elseif (preg_match('/^4\d\d$/', $code)) {
        fwrite(STDERR, "error reply: $line\n");
        exit(1);
    }
}
fwrite(STDERR, $registered ? "JOIN not confirmed in time\n" : "registration not confirmed in time\n");
exit(1);

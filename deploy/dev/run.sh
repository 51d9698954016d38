#!/usr/bin/env bash
# `make run`: start the local stack (real WordPress, MediaWiki, IRC) and the bridge (serve +
# worker, SQLite), print the URLs, and stop everything on Ctrl-C.  `make stop` (run.sh stop)
# stops the same processes from another terminal.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
state=${SPACE_DEV_STATE:-$repo/.dev}
export SPACE_DEV_STATE=$state
bin=$repo/.venv/bin
listen=${SPACE_DEV_BRIDGE_LISTEN:-127.0.0.1:8090}
discourse_port=${SPACE_DEV_DISCOURSE_PORT:-8070}
export SPACE_DEV_DISCOURSE_URL=http://127.0.0.1:$discourse_port
wikimedia_port=${SPACE_DEV_WIKIMEDIA_PORT:-8071}
export SPACE_DEV_WIKIMEDIA_URL=http://127.0.0.1:$wikimedia_port
config=$state/space.yaml
rundir=$state/run
mirror_constants=/etc/wordpress/space-bridge-mirror.php  # read by deploy/wordpress/space-bridge-mirror.php
mkdir -p "$rundir" "$state/log"

stop_bridge() {
  local pidfile pid
  for pidfile in "$rundir"/bridge-*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

stop_all() {
  echo "run.sh: stopping the bridge and the local stack"
  rm -f "$mirror_constants"
  stop_bridge
  bash "$repo/deploy/dev/stack.sh" down
}

if [ "${1:-run}" = stop ]; then
  # Ask a running `make run` to stop everything itself, so it exits cleanly; else stop here.
  pid=$(cat "$rundir/run.pid" 2>/dev/null || echo 0)
  if [ "$pid" != 0 ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  stop_all
  exit 0
fi
echo $$ >"$rundir/run.pid"

bash "$repo/deploy/dev/stack.sh" up
"$bin/python" "$repo/deploy/dev/devconfig.py" "$state/stack.json" "$config"
"$bin/space-bridge" config check "$config"
# The blog's web hooks go to this bridge (site "local" of the generated config).
umask 077
cat >"$mirror_constants" <<PHP
<?php // Written by deploy/dev/run.sh for \`make run\`; removed when it stops.
define('SPACE_BRIDGE_MIRROR_URL', 'http://$listen/webhooks/wordpress/local');
define('SPACE_BRIDGE_MIRROR_SECRET', '$("$bin/python" "$repo/deploy/dev/devconfig.py" --secret wordpress_webhook_secret "$state")');
PHP
chmod 644 "$mirror_constants"
umask 022
"$bin/space-bridge" --config "$config" db upgrade

stop_bridge  # a bridge left over from an earlier run would hold the port
trap 'stop_all; exit 0' INT TERM
trap 'echo "run.sh: failed; stopping what it started" >&2; stop_all' ERR

# The forum: Discourse cannot run here, so its contract double stands in (deploy/dev/discourse_double).
DISCOURSE_DOUBLE_API_KEY=$("$bin/python" "$repo/deploy/dev/devconfig.py" --secret discourse_api_key "$state") \
  setsid "$bin/python" "$repo/deploy/dev/discourse_double/__main__.py" --host 127.0.0.1 --port "$discourse_port" \
  --state "$state/discourse-double" --base-url "$SPACE_DEV_DISCOURSE_URL" >>"$state/log/discourse-double.log" 2>&1 &
echo $! >"$rundir/bridge-discourse-double.pid"
for _ in $(seq 1 100); do
  curl -fsS "$SPACE_DEV_DISCOURSE_URL/__double__/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$SPACE_DEV_DISCOURSE_URL/__double__/health" >/dev/null ||
  { echo "run.sh: the Discourse double did not start; see $state/log/discourse-double.log" >&2; false; }
"$bin/space-bridge" --config "$config" discourse setup

# Wikimedia's login: its OAuth 2.0 double stands in (deploy/dev/wikimedia_double; test users and
# the password "wikimedia-double" in its users.py), the bridge's /oauth/callback registered.
WIKIMEDIA_DOUBLE_CLIENT_SECRET=$("$bin/python" "$repo/deploy/dev/devconfig.py" --secret wikimedia_client_secret "$state") \
  setsid "$bin/python" "$repo/deploy/dev/wikimedia_double/__main__.py" --host 127.0.0.1 --port "$wikimedia_port" \
  --client-id "$("$bin/python" "$repo/deploy/dev/devconfig.py" --wikimedia-client-id)" \
  --redirect-uri "http://$listen/oauth/callback" --base-url "$SPACE_DEV_WIKIMEDIA_URL" \
  >>"$state/log/wikimedia-double.log" 2>&1 &
echo $! >"$rundir/bridge-wikimedia-double.pid"
for _ in $(seq 1 100); do
  curl -fsS "$SPACE_DEV_WIKIMEDIA_URL/" >/dev/null 2>&1 && break
  sleep 0.2
done

for cmd in serve worker; do
  setsid "$bin/space-bridge" --config "$config" "$cmd" >>"$state/log/bridge-$cmd.log" 2>&1 &
  echo $! >"$rundir/bridge-$cmd.pid"
done

for _ in $(seq 1 100); do
  curl -fsS "http://$listen/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
if ! curl -fsS "http://$listen/healthz" >/dev/null; then
  echo "run.sh: the bridge did not become healthy; see $state/log/bridge-serve.log" >&2
  stop_all
  exit 1
fi

read -r wp_url mw_url irc < <("$bin/python" - "$state/stack.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(s["wordpress"]["url"], s["mediawiki"]["url"], "%s:%s" % (s["irc"]["host"], s["irc"]["port"]))
PY
)
# Where the relay of the generated config sends new posts and topics, read back from that config.
read -r feed_url irc_server irc_channel console_url < <("$bin/python" "$repo/deploy/dev/devconfig.py" --flows "$config" "$state/stack.json")
# The status console is printed as a link only once this bridge serves it: a 404 means its
# route is not in this version, and a link that 404s would send a new operator looking for a fault.
if [ "$(curl -sS -o /dev/null -I -w '%{http_code}' "$console_url" 2>/dev/null || true)" = 404 ]; then
  console_line="not in this version yet ($console_url answers 404)"
else
  console_line="$console_url   (Wikimedia login, an admin group of the config)"
fi
cat <<EOT

Space bridge is running (Ctrl-C, or \`make stop\` elsewhere, stops everything):
  bridge     http://$listen/healthz   http://$listen/metrics
  Discourse  $SPACE_DEV_DISCOURSE_URL/   (the contract double: a local stand-in for Discourse)
  Wikimedia  $SPACE_DEV_WIKIMEDIA_URL/   (the OAuth 2.0 double: log in as "Alice Member", password wikimedia-double)
  log in     http://$listen/login   log out everywhere: http://$listen/logout
  WordPress  $wp_url/   (log in at $wp_url/wp-login.php; credentials in $state/stack.json)
  MediaWiki  $mw_url/
  IRC        $irc
  console    $console_line
  config     $config
  logs       $state/log/

Every flow, end to end: publish a post at $wp_url/wp-admin/post-new.php; it gets
its forum topic, then an entry on the wiki's feed page and a line in the IRC channel. A new
forum topic gets the same (a blog post's own topic is announced once, as the post).
  feed page  $feed_url
  channel    $irc_channel on $irc_server   (any IRC client; TLS off)
EOT

# Wait for Ctrl-C; if a bridge process dies, say so and stop the rest.
while :; do
  for cmd in serve worker discourse-double wikimedia-double; do
    pid=$(cat "$rundir/bridge-$cmd.pid" 2>/dev/null || echo 0)
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: $cmd stopped unexpectedly; see $state/log/*$cmd.log" >&2
      stop_all
      exit 1
    fi
  done
  sleep 1 &
  wait $! || true
done

#!/usr/bin/env bash
# `php -l` on every PHP file of this checkout: the mu-plugins, the Ansible role's provisioning
# scripts and the dev stack's helpers. Files come from git (tracked, plus new ones not ignored), so
# nothing outside the repository (a peer checkout, WordPress itself) is linted. Installs Debian's
# php-cli when php is missing (as root; the dev stack installs it too, but later, inside pytest).
# Exit status 1 when any file has a syntax error; each error is printed. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/../.."
php=${SPACE_DEV_PHP:-php}

if ! command -v "$php" >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "php-lint.sh: php is missing; run: sudo apt-get install php-cli" >&2
    exit 1
  fi
  echo "php-lint.sh: installing php-cli (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends php-cli >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends php-cli >/dev/null
  fi
fi

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "php-lint.sh: not a git checkout; the files to lint come from git ls-files" >&2
  exit 1
fi

count=0 failed=0
while IFS= read -r -d '' file; do
  [ -f "$file" ] || continue  # deleted in the work tree, still in the index
  count=$((count + 1))
  # -n: no php.ini, so a machine's settings cannot hide an error; the parse error goes to
  # stdout or stderr depending on display_errors, so both are kept.
  if ! out=$("$php" -n -d display_errors=1 -l "$file" 2>&1); then
    printf '%s\n' "$out" >&2
    failed=$((failed + 1))
  fi
done < <(git ls-files -z --cached --others --exclude-standard -- '*.php')

if ((failed)); then
  echo "php-lint.sh: $failed of $count PHP files have syntax errors" >&2
  exit 1
fi
echo "php-lint.sh: $count PHP files, no syntax errors ($("$php" -n -r 'echo PHP_VERSION;'))"

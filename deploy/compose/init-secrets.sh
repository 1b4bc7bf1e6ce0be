#!/usr/bin/env bash
# Makes deploy/compose/secrets/<backend>-<component>.password for every principal compose.yml
# names (random, mode 600), keeping files that exist: put a cluster's real passwords there instead.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$HERE/secrets"
chmod 700 "$HERE/secrets"
umask 077
for name in $(sed -n 's/^  \([a-z_-]*\): {file: \.\/secrets\/.*/\1/p' "$HERE/compose.yml"); do
  file="$HERE/secrets/$name.password"
  [[ -s "$file" ]] || { openssl rand -hex 24 > "$file"; echo "made $file"; }
done

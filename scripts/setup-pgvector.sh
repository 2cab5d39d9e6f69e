#!/usr/bin/env bash
# Makes the pgvector extension available to the installed PostgreSQL: Debian/Ubuntu's binary
# package where one exists, else built from Debian's own source package (Debian 12 has none).
set -euo pipefail
pg_config_bin=$(ls /usr/lib/postgresql/*/bin/pg_config 2>/dev/null | sort -V | tail -1)
[ -n "$pg_config_bin" ] || { echo "twinshot: PostgreSQL server is not installed" >&2; exit 1; }
major=$("$pg_config_bin" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')
if [ -f "$("$pg_config_bin" --sharedir)/extension/vector.control" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "twinshot: pgvector is missing; run as root: sudo bash scripts/setup-pgvector.sh" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get install -y -q "postgresql-$major-pgvector" >/dev/null 2>&1; then exit 0; fi
echo "twinshot: building pgvector from Debian's source package"
if ! grep -rqs "trixie main" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb-src http://deb.debian.org/debian trixie main" > /etc/apt/sources.list.d/twinshot-trixie-src.list
fi
apt-get update -q >/dev/null
apt-get install -y -q dpkg-dev "postgresql-server-dev-$major" >/dev/null
work=$(mktemp -d)
# apt downloads as its unprivileged _apt user where it can; let it write here (else it warns).
chown _apt "$work" 2>/dev/null || true
(cd "$work" && apt-get source --download-only pgvector >/dev/null && tar xf pgvector_*.orig.tar.* && cd pgvector-*/ \
  && make -s PG_CONFIG="$pg_config_bin" >/dev/null && make -s install PG_CONFIG="$pg_config_bin" >/dev/null)
rm -rf "$work"

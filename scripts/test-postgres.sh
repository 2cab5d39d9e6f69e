#!/usr/bin/env bash
# Sourced by scripts/test.sh: starts a private PostgreSQL cluster (as an unprivileged user when
# run as root) in a temp folder on a free port, and exports TWINSHOT_TEST_PG_URL.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pg_bin" ]; then
  echo "twinshot: PostgreSQL not installed; the PostgreSQL store tests are skipped (under CI=true they fail)" >&2
  return 0 2>/dev/null || exit 0
fi
pg_dir=$(mktemp -d /tmp/twinshot-pg.XXXXXX)
run_as=()
if [ "$(id -u)" -eq 0 ]; then
  id -u postgres >/dev/null 2>&1 || useradd -r postgres
  chown postgres "$pg_dir"
  run_as=(runuser -u postgres --)
fi
"${run_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U twinshot --auth=trust >/dev/null
# A random port can be taken (another test run, another service): try a few.
pg_started=
for _ in 1 2 3 4 5; do
  pg_port=$(( 20000 + RANDOM % 20000 ))
  if "${run_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1" \
      -l "$pg_dir/log" -w -t 60 start >/dev/null; then
    pg_started=1
    break
  fi
done
if [ -z "$pg_started" ]; then
  echo "twinshot: could not start PostgreSQL for the tests; its log:" >&2
  cat "$pg_dir/log" >&2
  rm -rf "$pg_dir"
  return 1 2>/dev/null || exit 1
fi
export TWINSHOT_TEST_PG_URL="postgres://twinshot@127.0.0.1:$pg_port/postgres"
trap '"${run_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$pg_dir"' EXIT

#!/usr/bin/env bash
# The test command: sets up what is missing, then runs the unit/integration suite and the
# browser end-to-end tests. Extra arguments go to vitest (e.g. scripts/test.sh test/engine).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# A throwaway PostgreSQL with pgvector for the gallery store tests (exports TWINSHOT_TEST_PG_URL).
source scripts/test-postgres.sh
if [ $# -eq 0 ]; then
  npx tsc -p tsconfig.json --noEmit
  npx eslint .
  npx prettier --check . --log-level warn
fi
npx vitest run "$@"
if [ $# -eq 0 ] && [ -d test/e2e ]; then
  npx vitest run --config test/e2e/vitest.config.ts
fi

#!/usr/bin/env bash
# The full test suite: set-up, typecheck, build, then every mocha test (unit and, as root,
# integration against real DHCP servers and the real CNI plugins). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
echo "== typecheck"
if ! npx tsc -p tsconfig.json --noEmit; then
  echo "typecheck failed"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "== mocha"
npx mocha --reporter test/helpers/count-reporter.js "$@" 'test/**/*.test.ts'

#!/usr/bin/env bash
# The two suites of `npm test` at once (after the build): Jest, and the Python client's
# tests (clients/python/run-tests.sh). Both spend most of their time waiting on services
# they start, so together they take little more than Jest alone. The Python output is
# held back until Jest is done, so the two never interleave. Extra arguments go to Jest.
set -uo pipefail
cd "$(dirname "$0")/.."

python_log=$(mktemp)
bash clients/python/run-tests.sh >"$python_log" 2>&1 &
python_pid=$!
trap 'kill "$python_pid" 2>/dev/null; rm -f "$python_log"' EXIT

node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js "$@"
jest_status=$?
wait "$python_pid"
python_status=$?
cat "$python_log"
[ "$jest_status" -eq 0 ] && [ "$python_status" -eq 0 ]

#!/usr/bin/env bash
# Runs the Python client's tests (`npm run test:python`, part of `npm test`) with a Python
# 3.9+ that has httpx, pytest and pydantic: $PYTHON if set, else Debian's /usr/bin/python3,
# else python3 on PATH. They start dist/main.js, so build first (npm test does).
# Without such a Python: a failure under CI (any CI value but unset, empty, 0 or false), a
# loud skip elsewhere.
set -uo pipefail

# Pipelines set CI to true, 1 or yes: all of them mean CI, so none can turn into a green skip.
under_ci() {
  case "$(printf '%s' "${CI:-}" | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')" in
    '' | 0 | false) return 1 ;;
    *) return 0 ;;
  esac
}
cd "$(dirname "$0")"

needs='import sys, httpx, pytest, pydantic; sys.exit(sys.version_info < (3, 9))'
python=''
for candidate in ${PYTHON:-} /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "$needs" 2>/dev/null; then
    python=$candidate
    break
  fi
done

if [ -z "$python" ]; then
  message='No Python 3.9+ with httpx, pytest and pydantic. Install the Debian packages python3 python3-httpx python3-pytest python3-pydantic (or set PYTHON to one that has them).'
  if under_ci; then
    echo "FAIL: the Python client tests cannot run. $message" >&2
    exit 1
  fi
  printf '\n%s\n!!! SKIPPED: the Python client tests (clients/python/tests).\n!!! %s\n%s\n\n' \
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' "$message" \
    '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' >&2
  exit 0
fi

echo "Python client tests with $python ($("$python" --version 2>&1))"
PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo 'FAIL: pytest collected no Python client tests' >&2
  exit 1
fi
exit "$status"

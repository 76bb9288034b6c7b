#!/usr/bin/env bash
# Set up (first time) and run every check: ruff, mypy --strict, and the whole test suite.
# The state tests run a real Redis server: redis-server is installed if it is missing.
#   scripts/test.sh [PYTEST ARGS...]          everything (CI runs this)
#   scripts/test.sh --quick [PYTEST ARGS...]  the edit-test loop: ruff, mypy and the tests not
#                                             marked slow or container (under a minute on 2 cores)
quick=""
if [ "${1:-}" = --quick ]; then
  quick=1
  shift
fi
source "$(dirname "$0")/_venv.sh"
if ! command -v redis-server >/dev/null; then
  echo "==> installing redis-server (the state tests start their own)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq redis-server >/dev/null
  fi
  command -v redis-server >/dev/null || { echo "redis-server is missing: install it (apt-get install redis-server)" >&2; exit 1; }
fi
# tests/test_targets.py runs jambonz 0.9.8's own validator (npm @jambonz/verb-specifications) with node.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "==> installing nodejs and npm (tests/test_targets.py runs jambonz's validator)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq nodejs npm >/dev/null
  fi
  command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are missing: install them (apt-get install nodejs npm)" >&2; exit 1; }
fi
# tests/test_proxy.py runs the app behind a real nginx, configured as docs/deployment.md says.
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "==> installing nginx-light (tests/test_proxy.py runs the documented proxy configuration)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq nginx-light >/dev/null
  fi
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "nginx is missing: install it (apt-get install nginx-light)" >&2; exit 1; }
fi
echo "==> ruff"
ruff check .
ruff format --check .
if [ -n "$quick" ]; then
  # The hypothesis conformance runs, the wheel and image builds and the long end-to-end runs
  # are marked slow (pyproject's markers); CI runs them all. mypy runs beside the tests, on
  # the other core, and its report follows theirs.
  echo "==> mypy --strict (beside the tests) and pytest, quick: -m 'not slow and not container'"
  mypy_out=$(mktemp)
  mypy >"$mypy_out" 2>&1 &
  mypy_pid=$!
  tests_status=0
  pytest -q -m "not slow and not container" "$@" || tests_status=$?
  mypy_status=0
  wait "$mypy_pid" || mypy_status=$?
  echo "==> mypy --strict"
  cat "$mypy_out"
  rm -f "$mypy_out"
  if [ "$tests_status" != 0 ]; then exit "$tests_status"; fi
  exit "$mypy_status"
fi
echo "==> hadolint Dockerfile"
hadolint Dockerfile
echo "==> mypy --strict"
mypy
echo "==> pytest"
pytest "$@"

#!/usr/bin/env bash
# Set up (first time) and run every check: ruff, mypy --strict, and the whole test suite.
# The state tests run a real Redis server: redis-server is installed if it is missing.
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
echo "==> ruff"
ruff check .
ruff format --check .
echo "==> hadolint Dockerfile"
hadolint Dockerfile
echo "==> mypy --strict"
mypy
echo "==> pytest"
pytest "$@"

#!/usr/bin/env bash
# Set up (first time) and run every check: ruff, mypy --strict, and the whole test suite.
source "$(dirname "$0")/_venv.sh"
echo "==> ruff"
ruff check .
ruff format --check .
echo "==> hadolint Dockerfile"
hadolint Dockerfile
echo "==> mypy --strict"
mypy
echo "==> pytest"
pytest "$@"

#!/usr/bin/env bash
# Set up (first time) and run the load benchmark (needs wrk: apt-get install -y wrk); with
# --write it records the results in benchmarks/RESULTS.md. Arguments go to benchmarks/load.py.
source "$(dirname "$0")/_venv.sh"
if ! command -v wrk >/dev/null; then
  echo "wrk is missing: apt-get install -y wrk" >&2
  exit 2
fi
exec python benchmarks/load.py "$@"

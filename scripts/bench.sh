#!/usr/bin/env bash
# Set up (first time) and run the benchmarks of the request pipeline:
#   scripts/bench.sh [load] [ARGS...]   the load benchmark (needs wrk: apt-get install -y wrk)
#   scripts/bench.sh startup [ARGS...]  import time and memory of the example app
#   scripts/bench.sh dispatch [ARGS...] the last of 200 hooks against one, in process
#   scripts/bench.sh all [--write]      the three, one after the other, stopping at the first failure
# ARGS go to benchmarks/<name>.py; with --write each records its results in benchmarks/RESULTS.md.
source "$(dirname "$0")/_venv.sh"
name=load
case "${1:-}" in
  load | startup | dispatch | all) name=$1; shift ;;
esac
if [ "$name" = load ] || [ "$name" = all ]; then
  if ! command -v wrk >/dev/null; then
    echo "wrk is missing: apt-get install -y wrk" >&2
    exit 2
  fi
fi
if [ "$name" = all ]; then
  for script in startup dispatch load; do
    echo "==> benchmarks/$script.py $*"
    python "benchmarks/$script.py" "$@"
  done
  exit 0
fi
exec python "benchmarks/$name.py" "$@"

#!/usr/bin/env bash
# Set up (first time) and serve the example IVR with uvicorn on $PORT (default 3000).
source "$(dirname "$0")/_venv.sh"
exec uvicorn example_app.app:app --host "${HOST:-0.0.0.0}" --port "${PORT:-3000}" "$@"

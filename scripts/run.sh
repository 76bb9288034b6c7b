#!/usr/bin/env bash
# Set up (first time) and serve the example IVR on $PORT (default 3000), through jambonz-webhooks run:
# uvicorn with bounds on slow and idle clients and a clean drain on SIGTERM (docs/deployment.md).
source "$(dirname "$0")/_venv.sh"
exec jambonz-webhooks run example_app.app:app --host "${HOST:-0.0.0.0}" --port "${PORT:-3000}" "$@"

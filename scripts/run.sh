#!/usr/bin/env bash
# Set up (first time) and serve the example IVR on $PORT (default 3000), through jambonz-webhooks run:
# uvicorn with bounds on slow and idle clients and a clean drain on SIGTERM (docs/deployment.md).
# Serving needs no dev tools: its own venv, .venv-run, holds the package and its runtime
# dependencies only (scripts/test.sh keeps the dev tools in .venv).
VENV="${RUN_VENV:-.venv-run}"
EXTRAS=""
source "$(dirname "$0")/_venv.sh"
if [ -z "${JAMBONZ_WEBHOOK_SECRET:-}${JAMBONZ_WEBHOOK_USERNAME:-}${JAMBONZ_WEBHOOK_INSECURE:-}" ]; then
  # Apps fail closed; this command is for trying the example, so it opens it, and says so.
  echo "==> no JAMBONZ_WEBHOOK_SECRET: serving the example without authentication (JAMBONZ_WEBHOOK_INSECURE=1)." >&2
  echo "    Set JAMBONZ_WEBHOOK_SECRET to the account's webhook secret before jambonz can reach it." >&2
  export JAMBONZ_WEBHOOK_INSECURE=1
fi
exec jambonz-webhooks run example_app.app:app --host "${HOST:-0.0.0.0}" --port "${PORT:-3000}" "$@"

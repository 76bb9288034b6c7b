# Sourced by the other scripts: make a venv (once) and install the project into it whenever
# pyproject.toml changed since the last install.
#   VENV     the venv's directory (.venv)
#   EXTRAS   the extras installed with the project ("dev": the test and lint tools; "" for the
#            runtime dependencies only, as scripts/run.sh does in .venv-run)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
EXTRAS="${EXTRAS-dev}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
stamp="$VENV/.installed-$( (sha1sum pyproject.toml; echo "$EXTRAS") | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  if [ -n "$EXTRAS" ]; then
    echo "==> installing jambonz-webhooks with its extras [$EXTRAS] into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$EXTRAS]"
  else
    echo "==> installing jambonz-webhooks with its runtime dependencies into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e .
  fi
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"

# Sourced by the other scripts: make .venv (once) and install the project with its dev tools
# whenever pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "==> installing jambonz-webhooks with its dev tools into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"

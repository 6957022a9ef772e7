# Sourced by scripts/demo and scripts/test: find Python ≥ 3.12, make .venv, install Canyu.
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${CANYU_VENV:-$ROOT/.venv}"

python_ok() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
  local candidates=()
  [ -n "${CANYU_PYTHON:-}" ] && candidates+=("$CANYU_PYTHON")
  candidates+=(python3.13 python3.12 python3.14 python3)
  if command -v pyenv >/dev/null 2>&1; then
    local root; root="$(pyenv root)"
    for d in "$root"/versions/3.1[2-9]*/bin/python; do [ -x "$d" ] && candidates+=("$d"); done
  fi
  for d in "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]; do
    [ -x "$d" ] && candidates+=("$d")
  done
  if command -v uv >/dev/null 2>&1; then
    local found; found="$(uv python find '>=3.12' 2>/dev/null || true)"
    [ -n "$found" ] && candidates+=("$found")
  fi
  for c in "${candidates[@]}"; do
    local path; path="$(command -v "$c" 2>/dev/null || true)"
    if [ -n "$path" ] && python_ok "$path"; then echo "$path"; return 0; fi
  done
  return 1
}

if [ ! -x "$VENV/bin/python" ] || ! python_ok "$VENV/bin/python"; then
  PY="$(find_python)" || {
    echo "canyu: Python 3.12 or newer is needed and none was found." >&2
    echo "       Install it (e.g. 'apt-get install python3.12 python3.12-venv', 'pyenv install 3.12'," >&2
    echo "       or 'uv python install 3.12') or set CANYU_PYTHON=/path/to/python3.12." >&2
    exit 1
  }
  echo "canyu: creating $VENV with $PY" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi

STAMP="$VENV/.canyu-installed"
WANT="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "canyu: installing dependencies into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"

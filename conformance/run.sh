#!/usr/bin/env bash
# Official-SDK conformance suite: signs webhooks with the providers' own libraries and sends
# them to a running `hookgate serve`.
#
#   HOOKGATE_BIN=/path/to/hookgate conformance/run.sh [extra pytest args]
#
# Env: HOOKGATE_BIN (default <repo>/target/debug/hookgate), CONFORMANCE_VENV (default
# <repo>/target/conformance-venv), PYTHON (default python3). Needs python3 (>= 3.10, with venv)
# and node >= 20 with npm; everything else is installed here from requirements.txt and
# package-lock.json.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${CONFORMANCE_VENV:-$repo/target/conformance-venv}"
python="${PYTHON:-python3}"
export HOOKGATE_BIN="${HOOKGATE_BIN:-$repo/target/debug/hookgate}"

if [[ ! -x "$HOOKGATE_BIN" ]]; then
  echo "conformance: hookgate binary not found at $HOOKGATE_BIN (build it or set HOOKGATE_BIN)" >&2
  exit 1
fi
command -v node >/dev/null || { echo "conformance: node (>= 20) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "conformance: npm is required" >&2; exit 1; }

# Python: a private venv, re-synced with the pinned requirements on every run (fast when current).
if [[ ! -x "$venv/bin/python" ]]; then
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

# Node: exactly what package-lock.json says.
(cd "$here" && npm ci --silent --no-audit --no-fund)

cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" test_conformance.py test_presets.py test_delivery_signatures.py

#!/usr/bin/env bash
# Run checkov over terraform/ from its own virtual environment.
#
# checkov pins its own HCL parser, which conflicts with the python-hcl2 version the tests use in
# the main environment, so checkov lives in .venv-checkov (gitignored through .venv-*/). The
# first run creates it, and later runs reuse it while it contains CHECKOV_VERSION.
# Extra arguments go to checkov. Exit status: checkov's (non-zero when a check fails).
set -euo pipefail

CHECKOV_VERSION="3.3.30"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"
# Python 3.11 where present (the project's version), else the default python3.
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

installed_version() {
    "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null || true
}

if [[ "$(installed_version)" != "$CHECKOV_VERSION" ]]; then
    echo "checkov.sh: installing checkov $CHECKOV_VERSION into $VENV" >&2
    log="$(mktemp)"
    if ! { "$PYTHON" -m venv "$VENV" && "$VENV/bin/pip" install --disable-pip-version-check \
            "checkov==$CHECKOV_VERSION"; } > "$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "checkov.sh: installing checkov failed; full log in $log" >&2
        exit 1
    fi
    rm -f "$log"
fi

cd "$ROOT"
# --skip-download: use the checks shipped in the package, with no network calls. Skipped checks
# are justified where they apply, by "#checkov:skip=CKV_...:reason" comments in terraform/.
exec "$VENV/bin/checkov" --directory terraform --framework terraform --skip-download --quiet \
    --compact "$@"

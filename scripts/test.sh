#!/usr/bin/env bash
# The whole test suite, from a clean checkout: installs the third-party peers the tests need when
# they are missing, then runs formatting, lints and every test. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

# Debian packages the tests use as real peers.
APT_PACKAGES=(prometheus stress-ng iproute2 tmux)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]}"
    apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    log "warning: missing ${missing[*]} and cannot install them; tests that need them say so"
  fi
fi

# Debian's kubectl (kubernetes-client) is the third-party client the sandbox is checked against.
# Some images ship another package's /usr/bin/kubectl, so Debian's may need to overwrite it.
if ! dpkg -s kubernetes-client >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing kubernetes-client"
    apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Options::=--force-overwrite kubernetes-client >/dev/null \
      || log "warning: kubernetes-client could not be installed; the kubectl test will say it skipped"
  fi
fi

# Python peers live in one project virtualenv (.venv): localstack-claude emulates the Anthropic
# Messages API for the AI tests (started on 127.0.0.1 only, by the tests themselves).
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv || log "warning: cannot create .venv; tests that need Python peers say they skipped"
fi
if [ -x .venv/bin/python ] && ! .venv/bin/python -c 'import claude_local.server' >/dev/null 2>&1; then
  log "installing localstack-claude into .venv"
  .venv/bin/pip install -q localstack-claude \
    || log "warning: localstack-claude could not be installed; the AI emulator test will say it skipped"
fi

# moto's standalone server: the real AWS emulator the AWS engine tests run against (besides the
# built-in sandbox account). Installed into .venv once; the tests find .venv/bin/moto_server.
if [ ! -x .venv/bin/moto_server ]; then
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing python3-venv"
    apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null || true
  fi
  log "installing moto[server] into .venv"
  if python3 -m venv .venv && .venv/bin/pip install -q 'moto[server]'; then
    :
  else
    log "warning: could not install moto; the AWS tests run against the sandbox only and say so"
  fi
fi

command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }

log "cargo fmt --check"
cargo fmt --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

log "cargo test"
cargo test --no-fail-fast

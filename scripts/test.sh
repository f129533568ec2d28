#!/usr/bin/env bash
# Sets up and runs every Scaleboard check on a fresh Debian machine:
# system packages (apt, as root or via sudo) → fmt check → clippy (warnings denied) → all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the build and tests need. Connector issues add their servers here
# (postgresql, redis-server, rabbitmq-server, nginx-light, prometheus); a missing one fails
# poppler-utils: pdftotext and pdffonts read back the PDF cost reports in tests/cost.rs.
# the tests that need it, it is never skipped. The Docker tests need a running engine and the
# docker CLI (these machines have both); busybox-static gives their offline test image.
PACKAGES=(ca-certificates pkg-config busybox-static docker-compose postgresql-15 postgresql-client-15 nginx-light prometheus openssl poppler-utils redis-server redis-tools rabbitmq-server amqp-tools)
# Packaging checks (scripts/check-packaging.sh): the desktop entry and metainfo validators, man,
# the three shells the completions are for, dpkg-dev + binutils for cargo-deb, lintian, and rpm +
# rpm2cpio (rpm2archive) to read the .rpm back.
PACKAGES+=(desktop-file-utils appstream man-db zsh fish bash-completion dpkg-dev binutils lintian rpm rpm2cpio)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets (warnings denied)"
cargo clippy --all-targets --locked -- -D warnings

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
  # nextest does not run doctests
  cargo test --locked --doc
else
  cargo test --locked --no-fail-fast
fi

echo "== packaging (the .deb from the debug binary the tests built; installs cargo-deb if missing)"
bash scripts/check-packaging.sh
echo "== all checks passed"

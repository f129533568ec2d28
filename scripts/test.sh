#!/usr/bin/env bash
# Sets up and runs every Scaleboard check on a fresh Debian machine:
# system packages (apt, as root or via sudo) → fmt check → clippy (warnings denied) → all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the build and tests need. Connector issues add their servers here
# (postgresql, redis-server, rabbitmq-server, nginx-light, prometheus); a missing one fails
# poppler-utils: pdftotext and pdffonts read back the PDF cost reports in tests/cost.rs.
# the tests that need it, it is never skipped. The Docker tests need dockerd and the docker CLI
# (docker.io; they start a private daemon, never using the machine's own engine);
# busybox-static gives their offline test image. dbus-daemon: a private session bus for the
# desktop-notification test (tests/desktop_notify.rs).
PACKAGES=(ca-certificates pkg-config busybox-static docker-compose postgresql-15 postgresql-client-15 nginx-light prometheus openssl poppler-utils redis-server redis-tools rabbitmq-server amqp-tools pgbouncer mariadb-server mariadb-client patroni etcd-server etcd-client dbus-daemon)
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
# Tests never touch the developer's keyring (they bring their own config dirs and secrets).
export SCALEBOARD_KEYRING=off
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy --all-targets (warnings denied)"
cargo clippy --all-targets --locked -- -D warnings

# --- The machine's own Docker engine is left alone (issue #15) -------------------------------
# The Docker tests run on private dockerds they start under /tmp/sbd (tests/support/docker.rs).
# Proof: the host engine's Swarm state, container count and networks are recorded here, before
# the tests, and compared after them, in an EXIT trap so the check also runs when a test fails
# (set -e ends the script at the first failing command). A difference, or a private daemon
# still running, fails the test command. Nothing is written to disk, so it can run twice.
host_docker_state() {
  docker info --format '{{.Swarm.LocalNodeState}} {{.Containers}}' 2>&1 || true
  docker network ls -q 2>&1 | sort || true
}
HOST_DOCKER_BEFORE="$(host_docker_state)"
check_host_docker() {
  local status=$? after left
  after="$(host_docker_state)"
  left="$(pgrep -f -- '--exec-root /tmp/sbd/' || true)"
  if [ "$after" != "$HOST_DOCKER_BEFORE" ]; then
    echo "== FAILED: the tests changed the host's Docker engine (swarm state + containers, then networks):"
    diff <(echo "$HOST_DOCKER_BEFORE") <(echo "$after") | sed 's/^/   /'
    status=1
  elif [ -n "$left" ]; then
    echo "== FAILED: a private test dockerd is still running (pids: $(echo $left))"
    status=1
  else
    echo "== host Docker engine unchanged: $(head -n1 <<<"$after"), $(($(wc -l <<<"$after") - 1)) networks"
  fi
  exit "$status"
}
trap check_host_docker EXIT
# --- end of the host engine check ------------------------------------------------------------

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

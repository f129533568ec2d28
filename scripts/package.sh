#!/usr/bin/env bash
# Builds the Scaleboard packages:
#   bash scripts/package.sh [--profile PROFILE] [--no-build] [--fast] [--out-dir DIR]
#
#   → <target dir>/packages/scaleboard_<version>-<revision>_<arch>.deb
#   → <target dir>/packages/scaleboard-<version>-<release>.<arch>.rpm
#
# <target dir> is `target/`, or $CARGO_TARGET_DIR when set. Steps: build the binary (release
# profile unless --profile says otherwise; --no-build packages what is already built), generate
# the man pages and the bash/zsh/fish completions with the binary itself into
# <target dir>/<profile dir>/packaging/, then `cargo deb --no-build` and `cargo generate-rpm`
# (which never builds), driven by [package.metadata.deb] and [package.metadata.generate-rpm] in
# Cargo.toml; one build for both (--fast: quicker compression, larger files; --out-dir: write
# the packages there instead of <target dir>/packages).
# Installs cargo-deb and cargo-generate-rpm (crates.io) when missing; needs dpkg-dev
# (dpkg-shlibdeps computes Depends) and binutils (strip). The test command builds the packages
# from the dev profile: scripts/check-packaging.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=release
BUILD=1
OUT=""
DEB_ARGS=()
RPM_ARGS=()
while (($#)); do
  case "$1" in
    --profile) PROFILE="$2"; shift 2 ;;
    --profile=*) PROFILE="${1#--profile=}"; shift ;;
    --no-build) BUILD=0; shift ;;
    --out-dir) OUT="$2"; shift 2 ;;
    --out-dir=*) OUT="${1#--out-dir=}"; shift ;;
    --fast) DEB_ARGS+=(--fast); RPM_ARGS+=(--payload-compress gzip); shift ;;
    -h|--help) sed -n '2,17p' "$0" | cut -c3-; exit 0 ;;
    *) echo "package.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$PROFILE" in
  dev|debug) PROFILE=dev; PROFILE_DIR=debug ;;
  *) PROFILE_DIR="$PROFILE" ;;
esac

for tool in dpkg-shlibdeps strip gzip; do
  command -v "$tool" >/dev/null || {
    echo "package.sh: $tool is missing (Debian: apt-get install dpkg-dev binutils gzip)" >&2
    exit 1
  }
done
if ! cargo deb --version >/dev/null 2>&1; then
  echo "== installing cargo-deb"
  cargo install cargo-deb --locked
fi
if ! cargo generate-rpm --version >/dev/null 2>&1; then
  echo "== installing cargo-generate-rpm"
  cargo install cargo-generate-rpm --locked
fi

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps --locked \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[ -n "$TARGET_DIR" ] || { echo "package.sh: no target directory from cargo metadata" >&2; exit 1; }

if ((BUILD)); then
  echo "== cargo build --profile $PROFILE --bin scaleboard"
  cargo build --locked --profile "$PROFILE" --bin scaleboard
fi
BIN="$TARGET_DIR/$PROFILE_DIR/scaleboard"
[ -x "$BIN" ] || { echo "package.sh: $BIN is not built (drop --no-build)" >&2; exit 1; }

# Generated from the clap definitions by the binary being packaged, so they match it.
GEN="$TARGET_DIR/$PROFILE_DIR/packaging"
rm -rf "$GEN"
mkdir -p "$GEN/man" "$GEN/completions"
"$BIN" man --out-dir "$GEN/man" >/dev/null
gzip -9n "$GEN"/man/*.1
# cargo-generate-rpm packages files as they are: it gets a stripped copy (cargo-deb strips its own).
strip --strip-all -o "$GEN/scaleboard" "$BIN"
"$BIN" completions bash >"$GEN/completions/scaleboard.bash"
"$BIN" completions zsh >"$GEN/completions/_scaleboard"
"$BIN" completions fish >"$GEN/completions/scaleboard.fish"

OUT="${OUT:-$TARGET_DIR/packages}"
mkdir -p "$OUT"
echo "== cargo deb --no-build --profile $PROFILE"
# cargo-deb warns that the dev profile is "not supported": it only packages what is built,
# which is what the test command wants (no release build in the test path).
cargo deb --no-build --profile "$PROFILE" "${DEB_ARGS[@]}" --output "$OUT/"
echo "== cargo generate-rpm --profile $PROFILE"
cargo generate-rpm --profile "$PROFILE" --target-dir "$TARGET_DIR" "${RPM_ARGS[@]}" --output "$OUT/"
ls -l "$OUT"/*.deb "$OUT"/*.rpm

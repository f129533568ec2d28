#!/usr/bin/env bash
# Packaging checks (issue #13), run by scripts/test.sh after the cargo tests so the debug binary
# is already built. Every check must run: a missing tool is a failure, never a skip.
#
#  1. desktop-file-validate on the desktop entry, appstreamcli validate on the metainfo;
#  2. the .deb, built from the dev profile by scripts/package.sh (no release build here);
#  3. the generated man pages render with `man -l` (no groff warnings) and scaleboard(1) names
#     every subcommand of `scaleboard --help`;
#  4. each completion script loads in its shell and completes the subcommands;
#  5. `dpkg-deb -I` / `-c`: control fields and every file the package must install; lintian with
#     no errors; the .rpm's header, computed Requires and files (`rpm -qp`), its binary runs;
#  6. the packaged binary runs: installed with dpkg (only as root and when no scaleboard package
#     is installed already, then removed again and checked gone), otherwise extracted with
#     `dpkg-deb -x` into a temp dir. It prints which.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "check-packaging: FAIL: $*" >&2
  exit 1
}
step() { echo "== packaging ($SECONDS s): $*"; }

for tool in desktop-file-validate appstreamcli lintian man zsh fish dpkg-deb dpkg-shlibdeps gzip rpm rpm2archive; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/test.sh installs it with apt)"
done
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
[ -r "$BASH_COMPLETION" ] || fail "$BASH_COMPLETION is missing (Debian package bash-completion)"

WORK="$(mktemp -d)"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# --- 1. desktop entry and metainfo ------------------------------------------------------------
step "desktop-file-validate packaging/scaleboard.desktop"
desktop-file-validate packaging/scaleboard.desktop || fail "desktop entry is not valid"
grep -qx 'StartupWMClass=scaleboard' packaging/scaleboard.desktop || fail "StartupWMClass"

step "appstreamcli validate --no-net packaging/dev.scaleboard.scaleboard.metainfo.xml"
appstreamcli validate --no-net --pedantic packaging/dev.scaleboard.scaleboard.metainfo.xml \
  || fail "metainfo is not valid"

# --- 2. the package, from the dev profile -----------------------------------------------------
# The debug binary the tests ran (after the test run this builds nothing; `cargo build --bin`
# would resolve dev-dependency features differently and relink a second binary).
# The packages go to a temp dir: a release package in <target>/packages stays as it is.
step "cargo test --no-run (the tests' debug binary), then scripts/package.sh --profile dev --no-build --fast"
cargo test --locked --no-run --test packaging
bash scripts/package.sh --profile dev --no-build --fast --out-dir "$WORK/packages"
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps --locked \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
ARCH="$(dpkg --print-architecture)"
DEB="$WORK/packages/scaleboard_${VERSION}-1_${ARCH}.deb"
[ -f "$DEB" ] || fail "$DEB was not written"
RPM="$WORK/packages/scaleboard-${VERSION}-1.$(uname -m).rpm"
[ -f "$RPM" ] || fail "$RPM was not written"
BIN="$TARGET_DIR/debug/scaleboard"
GEN="$TARGET_DIR/debug/packaging"

# Subcommands as `--help` lists them (clap's "Commands:" block, without `help`).
mapfile -t SUBCOMMANDS < <("$BIN" --help \
  | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | grep -vx help)
((${#SUBCOMMANDS[@]} >= 8)) || fail "found only ${#SUBCOMMANDS[@]} subcommands in --help: ${SUBCOMMANDS[*]}"
echo "subcommands: ${SUBCOMMANDS[*]}"

# --- 3. man pages -----------------------------------------------------------------------------
step "man -l on every generated page"
pages=("$GEN"/man/*.1.gz)
((${#pages[@]} >= ${#SUBCOMMANDS[@]} + 1)) || fail "only ${#pages[@]} man pages in $GEN/man"
for page in "${pages[@]}"; do
  rendered="$WORK/$(basename "$page" .1.gz).txt"
  MANWIDTH=100 LC_ALL=C.UTF-8 man --warnings -l "$page" >"$rendered" 2>"$WORK/man.err" \
    || fail "man -l $page: $(cat "$WORK/man.err")"
  [ ! -s "$WORK/man.err" ] || fail "man -l $page warned: $(cat "$WORK/man.err")"
  grep -q "NAME" "$rendered" || fail "$page renders without a NAME section"
done
main_txt="$WORK/scaleboard.txt"
for sub in "${SUBCOMMANDS[@]}"; do
  grep -q "scaleboard-$sub(1)" "$main_txt" || fail "scaleboard(1) does not mention $sub"
  [ -f "$GEN/man/scaleboard-$sub.1.gz" ] || fail "no man page scaleboard-$sub.1"
done
grep -q "cost-models.toml" "$main_txt" || fail "scaleboard(1) has no FILES section"
echo "scaleboard(1) names: ${SUBCOMMANDS[*]}; $(ls "$GEN/man" | wc -l) pages render"

# --- 4. completions ---------------------------------------------------------------------------
step "bash completion"
out="$(bash --norc --noprofile -c '
  source "$1"; source "$2"
  complete -p scaleboard
  COMP_WORDS=(scaleboard st); COMP_CWORD=1; COMP_LINE="scaleboard st"; COMP_POINT=${#COMP_LINE}
  _scaleboard scaleboard st scaleboard
  printf "reply: %s\n" "${COMPREPLY[@]}"' _ "$BASH_COMPLETION" "$GEN/completions/scaleboard.bash" 2>&1)" \
  || fail "bash completion: $out"
echo "$out"
grep -q '^complete .* scaleboard$' <<<"$out" || fail "bash: no complete -p scaleboard"
grep -qx 'reply: status' <<<"$out" || fail "bash: 'scaleboard st<TAB>' does not give status"

step "zsh completion"
mkdir -p "$WORK/zfunc"
cp "$GEN/completions/_scaleboard" "$WORK/zfunc/"
zsh -n "$WORK/zfunc/_scaleboard" || fail "zsh: _scaleboard does not parse"
out="$(HOME="$WORK" zsh -f -c '
  fpath=("$1" $fpath)
  autoload -Uz compinit && compinit -u -D
  print -r -- "compdef: ${_comps[scaleboard]}"
  autoload -Uz _scaleboard && functions _scaleboard >/dev/null && print loaded' _ "$WORK/zfunc" 2>&1)" \
  || fail "zsh completion: $out"
echo "$out"
grep -qx 'compdef: _scaleboard' <<<"$out" || fail "zsh: compinit does not bind _scaleboard"
grep -qx 'loaded' <<<"$out" || fail "zsh: _scaleboard does not load"

step "fish completion"
out="$(HOME="$WORK" XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data" fish --no-config -c '
  source $argv[1]; or exit 1
  complete -C "scaleboard st"
  complete -C "scaleboard cost "
  complete -C "scaleboard status --j"' "$GEN/completions/scaleboard.fish" 2>&1)" \
  || fail "fish completion: $out"
echo "$out"
grep -q '^status' <<<"$out" || fail "fish: 'scaleboard st<TAB>' does not give status"
grep -q '^report' <<<"$out" || fail "fish: 'scaleboard cost <TAB>' does not give report"
grep -q '^--json' <<<"$out" || fail "fish: 'scaleboard status --j<TAB>' does not give --json"

# --- 5. package contents and lintian ----------------------------------------------------------
step "dpkg-deb -I $DEB"
dpkg-deb -I "$DEB" | tee "$WORK/info.txt"
grep -q "^ Package: scaleboard$" "$WORK/info.txt" || fail "Package field"
grep -q "^ Version: ${VERSION}-1$" "$WORK/info.txt" || fail "Version field"
grep -q "^ Depends: .*libc6" "$WORK/info.txt" || fail "Depends was not computed (no libc6)"

step "dpkg-deb -c $DEB"
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/files.txt"
cat "$WORK/files.txt"
expected=(
  /usr/bin/scaleboard
  /usr/share/applications/scaleboard.desktop
  /usr/share/metainfo/dev.scaleboard.scaleboard.metainfo.xml
  /usr/share/icons/hicolor/scalable/apps/scaleboard.svg
  /usr/share/man/man1/scaleboard.1.gz
  /usr/share/bash-completion/completions/scaleboard
  /usr/share/zsh/vendor-completions/_scaleboard
  /usr/share/fish/vendor_completions.d/scaleboard.fish
  /usr/share/doc/scaleboard/copyright
  /usr/share/doc/scaleboard/changelog.Debian.gz
)
for size in 16 22 24 32 48 64 128 256 512; do
  expected+=("/usr/share/icons/hicolor/${size}x${size}/apps/scaleboard.png")
done
for sub in "${SUBCOMMANDS[@]}"; do expected+=("/usr/share/man/man1/scaleboard-$sub.1.gz"); done
for f in "${expected[@]}"; do
  grep -qx "$f" "$WORK/files.txt" || fail "$DEB lacks $f"
done
dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/share/doc/scaleboard/copyright >"$WORK/copyright"
grep -q "^License: bitstream-vera" "$WORK/copyright" || fail "copyright lacks the DejaVu licence"
echo "the package holds all ${#expected[@]} expected files"

step "lintian $DEB"
lintian --fail-on error --info "$DEB" 2>&1 | tee "$WORK/lintian.txt" || fail "lintian found errors"
if grep -q '^E: ' "$WORK/lintian.txt"; then fail "lintian found errors"; fi
echo "lintian: $(grep -c '^E: ' "$WORK/lintian.txt" || true) errors, $(grep -c '^W: ' "$WORK/lintian.txt" || true) warnings"

step "rpm -qp $RPM"
rpm -qpi "$RPM" 2>&1 | sed -n '1,3p;/^Summary/p'
[ "$(rpm -qp --qf '%{NAME} %{VERSION}' "$RPM")" = "scaleboard $VERSION" ] || fail "rpm name/version"
rpm -qpR "$RPM" >"$WORK/rpm-requires.txt"
grep -q '^libc.so.6' "$WORK/rpm-requires.txt" || fail "rpm Requires were not computed (no libc.so.6)"
rpm -qpl "$RPM" >"$WORK/rpm-files.txt"
for f in "${expected[@]}"; do
  case "$f" in
    /usr/share/doc/scaleboard/copyright) f=/usr/share/licenses/scaleboard/copyright ;;
    /usr/share/doc/scaleboard/changelog.Debian.gz) continue ;;
    /usr/share/zsh/vendor-completions/_scaleboard) f=/usr/share/zsh/site-functions/_scaleboard ;;
  esac
  grep -qx "$f" "$WORK/rpm-files.txt" || fail "$RPM lacks $f"
done
mkdir -p "$WORK/rpmroot"
rpm2archive - <"$RPM" | tar -xz -C "$WORK/rpmroot"
v="$("$WORK/rpmroot/usr/bin/scaleboard" --version)"
[ "$v" = "scaleboard $VERSION" ] || fail "the rpm's binary says '$v'"
echo "rpm: $(wc -l <"$WORK/rpm-files.txt") files, $(grep -c . "$WORK/rpm-requires.txt") computed requires, its binary says '$v'"

# --- 6. run the packaged binary ---------------------------------------------------------------
# Never in the developer's own config: the demo status poll gets a throwaway config dir.
export SCALEBOARD_CONFIG_DIR="$WORK/config"
run_packaged() {
  local bin="$1"
  local v
  v="$("$bin" --version)"
  echo "$bin --version: $v"
  [ "$v" = "scaleboard $VERSION" ] || fail "$bin --version says '$v'"
  # Exit 0 when every demo endpoint is ok, 1 when one is degraded (the demo's queues carry a
  # simulated backlog that can cross the threshold); anything else is a failure.
  local code=0
  "$bin" status --demo --timeout 20 >"$WORK/status.txt" || code=$?
  [ "$code" -le 1 ] || fail "$bin status --demo failed ($code): $(cat "$WORK/status.txt")"
  head -n 5 "$WORK/status.txt"
  grep -qi demo "$WORK/status.txt" || fail "status --demo printed no demo endpoint"
}
installed_before=0
dpkg-query -W -f='${Status}' scaleboard 2>/dev/null | grep -q "install ok installed" && installed_before=1
if [ "$(id -u)" -eq 0 ] && ((installed_before == 0)); then
  step "install path: dpkg -i (root, no scaleboard package installed before)"
  dpkg -i "$DEB" || fail "dpkg -i $DEB"
  # Whatever happens from here, the package does not stay on the machine.
  trap 'dpkg -r scaleboard >/dev/null 2>&1 || true; cleanup' EXIT
  dpkg -L scaleboard >"$WORK/installed.txt"
  run_packaged /usr/bin/scaleboard
  # Files dpkg really put down (a minimal image may exclude /usr/share/man or doc by dpkg.cfg).
  : >"$WORK/present.txt"
  while read -r f; do [ -f "$f" ] && echo "$f" >>"$WORK/present.txt"; done <"$WORK/installed.txt"
  grep -qx /usr/bin/scaleboard "$WORK/present.txt" || fail "/usr/bin/scaleboard not installed"
  dpkg -r scaleboard || fail "dpkg -r scaleboard"
  if dpkg-query -W -f='${Status}' scaleboard 2>/dev/null | grep -q "installed"; then
    fail "scaleboard is still installed after dpkg -r"
  fi
  left=()
  while read -r f; do [ -e "$f" ] && left+=("$f"); done <"$WORK/present.txt"
  ((${#left[@]} == 0)) || fail "dpkg -r left behind: ${left[*]}"
  echo "installed $(wc -l <"$WORK/present.txt") files, ran, removed: none left behind"
else
  why="not root"
  ((installed_before)) && why="a scaleboard package is already installed"
  step "install path: dpkg-deb -x into a temp dir ($why; the machine is left alone)"
  dpkg-deb -x "$DEB" "$WORK/root"
  run_packaged "$WORK/root/usr/bin/scaleboard"
fi
echo "== packaging checks passed"

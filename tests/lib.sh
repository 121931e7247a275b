# Test helpers for shell test files (tests/<area>/test-*.sh).  Source it:
#   . "$(dirname "$0")/../lib.sh"
# Output is TAP ("ok N - name" / "not ok N - name"); tests/run counts it.
# Environment provided by tests/run (with defaults for running a file alone):
#   RGS_ROOT   the project root
#   RGS_BIN    directory of the built tools (build/bin, or build/san/bin)
#   RGS_TMP    a fresh temporary directory, removed at exit unless RGS_KEEP=1
#   NODE_PATH  tests/node_modules (yjs, ywasm, svix, ...)
#   PATH       RGS_BIN and bin/ (the glue) first
set -u
RGS_ROOT=${RGS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
RGS_BIN=${RGS_BIN:-$RGS_ROOT/build/bin}
export RGS_ROOT RGS_BIN
export NODE_PATH=$RGS_ROOT/tests/node_modules
export PATH="$RGS_BIN:$RGS_ROOT/bin:$PATH"
export RGS_BINDIR=$RGS_BIN   # how the glue in bin/ finds the built tools
VAULT=$RGS_ROOT/share/vaults/obsidian-help-de   # read-only: copy before changing

_t_n=0 _t_fail=0
RGS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rgs-test.XXXXXX")
export RGS_TMP
_t_cleanup() {
  local pids
  pids=$(jobs -p 2>/dev/null) && [ -n "$pids" ] && kill $pids 2>/dev/null
  [ "${RGS_KEEP:-0}" = 1 ] || rm -rf "$RGS_TMP"
}
trap _t_cleanup EXIT

ok()    { _t_n=$((_t_n+1)); echo "ok $_t_n - $*"; }
notok() { _t_n=$((_t_n+1)); _t_fail=$((_t_fail+1)); echo "not ok $_t_n - $*"; }
# t_ok NAME CMD...: passes when CMD exits 0
t_ok()  { local n=$1; shift; if "$@"; then ok "$n"; else notok "$n"; fi; }
# t_fails NAME CMD...: passes when CMD exits non-zero
t_fails() { local n=$1; shift; if "$@"; then notok "$n"; else ok "$n"; fi; }
# t_is NAME GOT WANT
t_is()  { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1"; diag "got:  $2"; diag "want: $3"; fi; }
# t_status NAME WANT CMD...: passes when CMD exits with status WANT
t_status() { local n=$1 want=$2; shift 2; local got=0; "$@" || got=$?
  if [ "$got" = "$want" ]; then ok "$n"; else notok "$n"; diag "exit status $got, want $want"; fi; }
# t_diff NAME GOT_FILE WANT_FILE: passes when the files are byte-identical
t_diff() { if cmp -s "$2" "$3"; then ok "$1"; else notok "$1"; diff -u "$3" "$2" | head -40 | sed 's/^/# /'; fi; }
diag()  { printf '# %s\n' "$*"; }
skip()  { _t_n=$((_t_n+1)); echo "ok $_t_n - # SKIP $*"; }
# done_testing: print the plan and exit with the right status
done_testing() { echo "1..$_t_n"; [ "$_t_fail" = 0 ]; exit $?; }

# free_port: a TCP port that is free on 127.0.0.1 right now
free_port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# wait_port PORT [SECONDS]: wait until something listens on 127.0.0.1:PORT
wait_port() { local p=$1 t=${2:-10} i=0
  while ! (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null; do
    i=$((i+1)); [ $i -gt $((t*20)) ] && return 1; sleep 0.05; done; }

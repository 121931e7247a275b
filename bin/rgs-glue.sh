# Shared by the shell glue (rgs-server, rgs-sync): sourced, not run.
# The caller sets $prog first.  Installed next to the man pages' data in
# PREFIX/share/rgs/; in the source tree it lives in bin/.
#
# Provides: msg, die, need_arg, $tools (where the C programs are; PATH is
# set), require_programs, the env(1) prefixes as_verify, as_fetch,
# as_commit, as_plain that pass each program only the secrets it needs,
# and redact_url.

msg() { printf '%s: %s: %s\n' "$prog" "$1" "$2" >&2; }
die() { msg error "$2"; exit "$1"; }
need_arg() { [ $# -ge 2 ] || die 100 "option '$1' needs a value (see --help)"; }

# the tools: $RGS_BINDIR, next to the calling script, or the build tree
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
if [ -n "${RGS_BINDIR:-}" ]; then tools=$RGS_BINDIR
elif [ -x "$here/rgs-fetch" ]; then tools=$here
else tools=$here/../build/bin; fi
tools=$(cd "$tools" 2>/dev/null && pwd) || die 100 "cannot find the rgs tools (set RGS_BINDIR)"
export PATH="$tools:$here:$PATH"

# require_programs NAME...: each must be on PATH, else stop before anything
# starts (a service that answers 200 and cannot sync is worse than one that
# is down)
require_programs() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 ||
      die 100 "program '$t' not found in $tools (incomplete build or install: run make, or set RGS_BINDIR)"
  done
}

# Secrets reach only the programs that need them: the internet-facing
# rgs-verify the webhook secret and the deploy key (for /api/pubkey),
# rgs-fetch the Relay key, rgs-commit the git credentials, the rest none.
_rgs_secrets=(RELAY_SERVER_API_KEY WEBHOOK_SECRET SSH_PRIVATE_KEY SSH_PRIVATE_KEY_FILE GIT_TOKEN GIT_USERNAME)
_rgs_only() { # VAR...: an env(1) command line that removes every other secret
  local v k keep
  printf '%s\n' env
  for v in "${_rgs_secrets[@]}"; do
    keep=0
    for k in "$@"; do [ "$v" = "$k" ] && keep=1; done
    [ "$keep" = 1 ] || printf -- '-u\n%s\n' "$v"
  done
}
mapfile -t as_verify < <(_rgs_only WEBHOOK_SECRET SSH_PRIVATE_KEY SSH_PRIVATE_KEY_FILE)
mapfile -t as_fetch < <(_rgs_only RELAY_SERVER_API_KEY)
mapfile -t as_commit < <(_rgs_only SSH_PRIVATE_KEY SSH_PRIVATE_KEY_FILE GIT_TOKEN GIT_USERNAME)
mapfile -t as_plain < <(_rgs_only)

# redact_url URL: without userinfo, query or fragment, for messages
redact_url() { sed -E 's#^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@#\1***@#; s#[?#].*##' <<<"$1"; }

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
# rgs-verify the webhook secret (and the deploy key's public half, see
# export_public_key), rgs-fetch the Relay key, rgs-commit the git
# credentials (GIT_TOKEN, GIT_TOKEN_<HOST>, the deploy key), the rest none.
_rgs_git=(SSH_PRIVATE_KEY SSH_PRIVATE_KEY_FILE GIT_TOKEN GIT_USERNAME
  $(compgen -v GIT_TOKEN_) $(compgen -v GIT_USERNAME_))
_rgs_secrets=(RELAY_SERVER_API_KEY WEBHOOK_SECRET "${_rgs_git[@]}")
_rgs_only() { # VAR...: an env(1) command line that removes every other secret
  local v k keep
  printf '%s\n' env
  for v in "${_rgs_secrets[@]}"; do
    keep=0
    for k in "$@"; do [ "$v" = "$k" ] && keep=1; done
    [ "$keep" = 1 ] || printf -- '-u\n%s\n' "$v"
  done
}
mapfile -t as_verify < <(_rgs_only WEBHOOK_SECRET)
mapfile -t as_fetch < <(_rgs_only RELAY_SERVER_API_KEY)
mapfile -t as_commit < <(_rgs_only "${_rgs_git[@]}")
mapfile -t as_plain < <(_rgs_only)

# export_public_key: derive the deploy key's public half once (rgs-ssh) and
# export it as RGS_SSH_PUBLIC_KEY / RGS_SSH_KEY_TYPE for rgs-verify's
# /api/pubkey.  When the key cannot be read, rgs-verify keeps the private key
# so /api/pubkey answers 500 with the reason, as the original did.
export_public_key() {
  [ -n "${SSH_PRIVATE_KEY:-}${SSH_PRIVATE_KEY_FILE:-}" ] || return 0
  local pub type
  if pub=$("${as_commit[@]}" rgs-ssh -q show-pubkey 2>/dev/null) &&
     type=$("${as_commit[@]}" rgs-ssh -q show-pubkey -t 2>/dev/null); then
    export RGS_SSH_PUBLIC_KEY=$pub RGS_SSH_KEY_TYPE=$type
  else
    msg warning "the deploy key in SSH_PRIVATE_KEY cannot be read: pushes over SSH will fail ($("${as_commit[@]}" rgs-ssh -q show-pubkey 2>&1 >/dev/null | tail -1))"
    mapfile -t as_verify < <(_rgs_only WEBHOOK_SECRET SSH_PRIVATE_KEY SSH_PRIVATE_KEY_FILE)
  fi
}

# redact_url URL: without userinfo, query or fragment, for messages
redact_url() { sed -E 's#^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@#\1***@#; s#[?#].*##' <<<"$1"; }

#!/usr/bin/env bash
# Packaging: the Dockerfile, tests/setup and the README's install step read
# the same package lists (share/deps/*.txt); every listed package exists in
# Debian 12; `make install DESTDIR=...` gives a complete tree whose programs
# run from there.  (No Docker engine runs on these machines.)
. "$(dirname "$0")/../lib.sh"
cd "$RGS_ROOT"

df=docker/Dockerfile
t_ok "Dockerfile exists and starts from debian:bookworm-slim" grep -q '^FROM debian:bookworm-slim' $df
t_ok "Dockerfile build stage installs from share/deps/build.txt and runtime.txt" \
  grep -q "sed -e 's/#.\*//' /tmp/deps/build.txt /tmp/deps/runtime.txt | xargs apt-get install" $df
t_ok "Dockerfile runtime stage installs exactly share/deps/runtime.txt" \
  grep -q "sed -e 's/#.\*//' /tmp/runtime.txt | xargs apt-get install -y --no-install-recommends \\\\\$" $df
t_ok "Dockerfile copies the lists it reads" grep -q '^COPY share/deps/runtime.txt /tmp/runtime.txt' $df
# no package names written into the Dockerfile besides the lists (the build
# stage adds nodejs and npm for the Swagger UI assets only)
extra=$(grep -o 'apt-get install[^&]*' $df | sed -e 's/apt-get install//; s/-y//; s/--no-install-recommends//; s/\\//' | tr ' ' '\n' | grep -v '^$' | sort -u | tr '\n' ' ')
t_is "Dockerfile names no packages of its own" "$extra" "nodejs npm "
t_ok "Dockerfile runs as a non-root user" grep -q '^USER rgs' $df
t_ok "Dockerfile uses /data, exposes 8000, has a HEALTHCHECK on /health" \
  bash -c "grep -q 'RELAY_GIT_DATA_DIR=/data' $df && grep -q '^EXPOSE 8000' $df && grep -q 'HEALTHCHECK.*' $df && grep -q '/health' $df"

t_ok "README's install step reads the same lists" \
  grep -q "sed -e 's/#.\*//' share/deps/build.txt share/deps/runtime.txt | xargs sudo apt-get install" README.md
t_ok "tests/setup reads the same lists" grep -q 'share/deps/runtime.txt' tests/setup

pkgs=$(sed -e 's/#.*//' share/deps/build.txt share/deps/runtime.txt share/deps/test.txt | awk 'NF {print $1}' | sort -u)
missing=""
for p in $pkgs; do
  apt-cache show "$p" >/dev/null 2>&1 || missing="$missing $p"
done
t_is "every listed package is known to apt (Debian 12)" "$missing" ""

# make install into a scratch root
root=$RGS_TMP/root
if make -s install DESTDIR="$root" PREFIX=/usr/local >"$RGS_TMP/install.log" 2>&1; then ok "make install DESTDIR"; else notok "make install DESTDIR"; sed 's/^/# /' "$RGS_TMP/install.log" | tail -20; fi
b=$root/usr/local/bin
tools=$(sed -n 's/^TOOLS *+= *//p' mk/*.mk | tr ' ' '\n' | grep -v '^$' | sort -u)
for t in $tools rgs-server rgs-sync; do
  if [ -x "$b/$t" ] && env -i PATH=/usr/bin:/bin HOME="$RGS_TMP" "$b/$t" --help >"$RGS_TMP/help" 2>&1 && grep -qi usage "$RGS_TMP/help"; then
    ok "installed $t runs --help"
  else
    notok "installed $t runs --help"; head -5 "$RGS_TMP/help" | sed 's/^/# /'
  fi
  t_ok "man page for $t installed" test -f "$root/usr/local/share/man/man1/$t.1"
done
t_ok "rgs-records(5) and rgs(7) installed" test -f "$root/usr/local/share/man/man5/rgs-records.5" -a -f "$root/usr/local/share/man/man7/rgs.7"
t_ok "openapi.yaml installed" test -s "$root/usr/local/share/rgs/openapi.yaml"
t_ok "systemd unit installed" test -s "$root/usr/local/share/rgs/relay-git-sync.service"
# the installed glue finds the installed tools (not the build tree)
out=$(env -i PATH=/usr/bin:/bin HOME="$RGS_TMP" RELAY_SERVER_URL=http://127.0.0.1:9 "$b/rgs-sync" --relay-id 00000000-0000-0000-0000-000000000000 --data-dir "$RGS_TMP/nodata" 2>&1; echo "exit=$?")
t_ok "installed rgs-sync runs with the installed tools" bash -c "! grep -q 'cannot find the rgs tools' <<<\"\$1\"" _ "$out"

# the demo with the installed tree's programs only: PATH is the installed
# bin/ and the system's (node runs the Relay stand-in, a test fixture)
node_dir=$(dirname "$(command -v node)")
demo=$RGS_TMP/demo
rc=0
env -i HOME="$RGS_TMP" TMPDIR="$RGS_TMP" PATH="$b:$node_dir:/usr/bin:/bin" RGS_BINDIR="$b" \
  DEMO_DIR="$demo" DEMO_COMMIT_INTERVAL=1 bash tests/demo/run >"$RGS_TMP/demo.out" 2>&1 || rc=$?
t_is "the demo runs with the installed programs" "$rc" 0
[ "$rc" = 0 ] || { tail -15 "$RGS_TMP/demo.out" | sed 's/^/# /'; tail -15 "$demo/server.log" 2>/dev/null | sed 's/^/# /'; }
t_ok "the demo's remote is identical to what Relay holds" grep -q "identical: [0-9]* files" "$RGS_TMP/demo.out"
n=$(sed -nE 's/.*identical: ([0-9]+) files.*/\1/p' "$RGS_TMP/demo.out")
t_is "the remote's tree has that many files" "$(git --git-dir="$demo/remote.git" ls-tree -r --name-only main 2>/dev/null | wc -l)" "${n:-none}"
# files no demo edit touches: on the remote byte for byte as in the vault
same=0 total=0
while IFS= read -r f; do
  total=$((total + 1))
  git --git-dir="$demo/remote.git" show "main:$f" 2>/dev/null | cmp -s - "share/vaults/obsidian-help-de/$f" && same=$((same + 1))
done < <(cd share/vaults/obsidian-help-de && find . -type f \( -path './Attachments/*' -o -path './Erste Schritte/*' \) ! -name '*.canvas' | sed 's|^\./||')
t_ok "untouched vault files are on the remote byte for byte ($same of $total)" test "$total" -gt 0 -a "$same" = "$total"
t_ok "the installed rgs-server served the demo" grep -q "rgs-server: info: listening on" "$demo/server.log"
t_fails "no program of the build tree ran" grep -q "$RGS_ROOT/build" "$demo/server.log"
done_testing

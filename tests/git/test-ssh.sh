#!/usr/bin/env bash
# rgs-ssh show-pubkey (rgs_sshkey_public): the public key of SSH_PRIVATE_KEY,
# checked against two independent truths: the .pub file ssh-keygen wrote when
# making the key, and Python cryptography's public_bytes(OpenSSH, OpenSSH),
# the original service's own method (relay.md §5.12).  ssh-keygen (for
# OpenSSH-format keys) gets the key in a private runtime directory and none
# of the caller's secrets (rgs-verify holds WEBHOOK_SECRET).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/gitlib.sh"
cd "$RGS_TMP"
mkdir -m 700 run && export XDG_RUNTIME_DIR=$RGS_TMP/run
ssh-keygen -q -t ed25519 -N '' -C 'comment@host' -f ed
ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f rsa
ssh-keygen -q -t ecdsa -b 384 -N '' -f ec
ssh-keygen -q -t ed25519 -N 'secret phrase' -f enc
openssl genpkey -algorithm ed25519 -out p8ed.pem 2>/dev/null
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out p8rsa.pem 2>/dev/null
openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-521 -out p8ec.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out sec1.pem 2>/dev/null
openssl genpkey -algorithm ed25519 -aes256 -pass pass:pw -out encpem.pem 2>/dev/null
chmod 600 ./*.pem
spy_on "$RGS_TMP/spy" ssh-keygen   # rgs-ssh's calls from here on

# truth 1: python3-cryptography (Debian's, as the original used)
ref() {
  /usr/bin/python3 - "$1" <<'PY'
import sys
from cryptography.hazmat.primitives import serialization as s
data = open(sys.argv[1], "rb").read()
load = s.load_ssh_private_key if b"OPENSSH" in data else s.load_pem_private_key
k = load(data, None)
print(k.public_key().public_bytes(s.Encoding.OpenSSH, s.PublicFormat.OpenSSH).decode())
PY
}
# truth 2: the .pub written by ssh-keygen
pub() { cut -d' ' -f1-2 "$1"; }
show() { SSH_PRIVATE_KEY=$1 WEBHOOK_SECRET=whsec-spied rgs-ssh show-pubkey 2>"$RGS_TMP/err"; }

for k in ed rsa ec; do
  t_is "$k: ssh-keygen's .pub" "$(show "$(cat $k)")" "$(pub $k.pub)"
done
for k in ed rsa ec p8ed.pem p8rsa.pem p8ec.pem sec1.pem; do
  want=$(ref $k)
  [ -n "$want" ] || { notok "$k: reference failed"; continue; }
  t_is "$k: python cryptography" "$(show "$(cat $k)")" "$want"
done
t_is "ed25519 type" "$(SSH_PRIVATE_KEY="$(cat ed)" rgs-ssh show-pubkey -t)" "ssh-ed25519"
t_is "PKCS#8 Ed25519 type" "$(SSH_PRIVATE_KEY="$(cat p8ed.pem)" rgs-ssh show-pubkey -t)" "ssh-ed25519"
t_is "RSA type" "$(SSH_PRIVATE_KEY="$(cat rsa)" rgs-ssh show-pubkey --type)" "ssh-rsa"
t_is "ECDSA P-384 type is 'ecdsa'" "$(SSH_PRIVATE_KEY="$(cat ec)" rgs-ssh -t show-pubkey)" "ecdsa"
t_is "ECDSA P-256 PEM type is 'ecdsa'" "$(SSH_PRIVATE_KEY="$(cat sec1.pem)" rgs-ssh -t show-pubkey)" "ecdsa"
t_is "literal \\n escapes on one line" "$(show "$(awk 1 ORS='\\n' ed)")" "$(pub ed.pub)"
t_is "literal \\n escapes, PEM" "$(show "$(awk 1 ORS='\\n' rsa)")" "$(pub rsa.pub)"
t_is "CRLF line ends" "$(show "$(sed 's/$/\r/' rsa)")" "$(pub rsa.pub)"
t_is "surrounding blanks" "$(show "  $(cat ed)

")" "$(pub ed.pub)"
t_is "no comment in the output" "$(show "$(cat ed)" | wc -w)" "2"
t_is "from SSH_PRIVATE_KEY_FILE" "$(SSH_PRIVATE_KEY= SSH_PRIVATE_KEY_FILE=$RGS_TMP/ec rgs-ssh show-pubkey)" "$(pub ec.pub)"
t_status "encrypted OpenSSH key refused (100)" 100 show "$(cat enc)"
t_ok "encrypted key: message names the problem" grep -q 'not an unencrypted private key' err
t_status "encrypted PEM key refused, not prompted for (100)" 100 show "$(cat encpem.pem)" </dev/null
t_status "garbage refused (100)" 100 show "-----BEGIN OPENSSH PRIVATE KEY-----
AAAA
-----END OPENSSH PRIVATE KEY-----"
t_ok "no key material in the message" bash -c '! grep -q AAAA err'
t_status "unset: 100" 100 env -u SSH_PRIVATE_KEY -u SSH_PRIVATE_KEY_FILE rgs-ssh show-pubkey
t_ok "unset: the original's message" grep -q 'SSH_PRIVATE_KEY environment variable not configured' \
  <(env -u SSH_PRIVATE_KEY -u SSH_PRIVATE_KEY_FILE rgs-ssh show-pubkey 2>&1)
t_status "unknown command: 100" 100 rgs-ssh frobnicate
t_ok "--help" bash -c 'rgs-ssh --help | grep -q show-pubkey'
t_ok "ssh-keygen ran (spied)" test -n "$(ls spy/ssh-keygen.*.argv 2>/dev/null)"
t_is "ssh-keygen read the key from the private runtime directory" \
  "$(grep -h -A1 -x -- -f spy/ssh-keygen.*.argv | grep -v -x -- -f | grep -v -x -- -- | sed -E 's#/rgs-sshkey\.[^/]*/#/rgs-sshkey.X/#' | sort -u)" \
  "$XDG_RUNTIME_DIR/rgs-sshkey.X/key"
t_fails "ssh-keygen's environment: no WEBHOOK_SECRET" grep -q '^WEBHOOK_SECRET=' spy/ssh-keygen.*.env
t_fails "ssh-keygen's environment: no SSH_PRIVATE_KEY" grep -q '^SSH_PRIVATE_KEY=' spy/ssh-keygen.*.env
t_is "no temporary key left behind" "$(ls -A run)" ""
done_testing

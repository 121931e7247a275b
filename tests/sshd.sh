# tests/sshd.sh: a real sshd on 127.0.0.1 for the tests and benchmarks
# (sourced).  It changes nothing on the system: it runs as the current user
# with its own configuration, host key and authorized keys, and as root in a
# private mount namespace that gives it its own /run/sshd.
#
# sshd_start DIR PORT HOSTKEY AUTHORIZED_KEYS
#   writes DIR/sshd_config, starts sshd -D in the background (log in
#   DIR/sshd.log), sets SSHD_PID, and returns 0 once it listens (1 after
#   10 s).  Only key authentication, only the current user.
sshd_start() {
  local d=$1 port=$2 hostkey=$3 keys=$4 i
  cat >"$d/sshd_config" <<EOS
Port $port
ListenAddress 127.0.0.1
HostKey $hostkey
AuthorizedKeysFile $keys
PidFile $d/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $(id -un)
LogLevel ERROR
EOS
  if [ "$(id -u)" = 0 ]; then
    unshare -m sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f "$1"' \
      sh "$d/sshd_config" 2>>"$d/sshd.log" &
  else
    /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>>"$d/sshd.log" &
  fi
  SSHD_PID=$!
  for ((i = 0; i < 200; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$SSHD_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

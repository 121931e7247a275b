#!/usr/bin/env bash
# make bench: webhook intake throughput with fsync on.
# wrk (2 threads, 200 keep-alive connections, 30 s by default) posts valid
# webhooks, each with its own Svix message id, signed in advance by the npm
# svix package, against rgs-accept + rgs-verify and socat + rgs-verify.
# Reports requests/s, acknowledged (200) webhooks/s, p50/p99 latency, that
# the spool holds exactly one entry per 200, and memory per connection (PSS
# of the handler processes, sampled mid-run).  Reference in the same run:
# rgs-accept + rgs-verify --dry-run (same checks, no disk), for the cost of
# durability.
# Second reference: the disk's floor, $conns processes doing only the
# append + fdatasync that each acknowledged webhook costs
# (tests/bench/intake-fsync-ref.c).
# Then the same 200 connections paced to about RGS_BENCH_RATE webhooks/s
# (1,000: the target) for the latency at that rate.
#   RGS_BENCH_SECONDS (30)  RGS_BENCH_CONNS (200)  RGS_BENCH_RATE (1000)
. "$(dirname "$0")/../lib.sh"
secs=${RGS_BENCH_SECONDS:-30} conns=${RGS_BENCH_CONNS:-200} threads=2
for t in wrk socat node; do
  command -v "$t" >/dev/null || { echo "bench-intake: '$t' is not installed (tests/setup installs it)"; exit 1; }
done
[ -x "$RGS_BIN/rgs-verify" ] && [ -x "$RGS_BIN/rgs-accept" ] || { echo "bench-intake: build first (make)"; exit 1; }

secret=whsec_$(head -c 24 /dev/urandom | base64)
export WEBHOOK_SECRET=$secret RGS_BENCH_REQS=$RGS_TMP/reqs RGS_BENCH_THREADS=$threads
# enough distinct signed requests for ~12,000 per second
n_reqs=$((secs * 12000))
node "$RGS_ROOT/tests/bench/intake-gen.js" "$secret" "$n_reqs" "$RGS_BENCH_REQS"
echo "disk: $(df -T "$RGS_TMP" | awk 'NR==2 {print $2}') under $RGS_TMP; $conns connections, $threads wrk threads, ${secs}s per run, $n_reqs distinct signed webhooks"
printf '%-28s %9s %9s %8s %8s %8s %11s %9s %s\n' listener req/s acked/s p50_ms p99_ms max_ms spooled=200 PSS/conn note

pss_sample() { # PARENT_PID -> "count total_pss_kB total_rss_kB"
  local kids p c=0 pss=0 rss=0 v
  kids=$(pgrep -P "$1")
  for p in $kids; do
    v=$(awk '/^Pss:/ {p=$2} /^Rss:/ {r=$2} END {print p+0, r+0}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    [ -n "$v" ] || continue
    c=$((c + 1)); pss=$((pss + ${v% *})); rss=$((rss + ${v#* }))
  done
  echo "$c $pss $rss"
}

run() { # NAME LISTENER [rgs-verify options]
  local name=$1 l=$2; shift 2
  local dd=$RGS_TMP/$name pid port
  mkdir -p "$dd"
  sync # start each run with no writeback left over from the last one
  if [ "$l" = accept ]; then
    # -p 0: all of wrk's connections come from 127.0.0.1 (no per-peer limit)
    RELAY_GIT_DATA_DIR=$dd rgs-accept -q -c 1024 -p 0 127.0.0.1 0 rgs-verify "$@" >"$RGS_TMP/port" 2>"$RGS_TMP/server.log" &
    pid=$!
    local i=0; while [ ! -s "$RGS_TMP/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    port=$(cat "$RGS_TMP/port"); rm -f "$RGS_TMP/port"
  else
    port=$(free_port)
    local cmd="rgs-verify"; [ $# -gt 0 ] && cmd="$cmd $*"
    RELAY_GIT_DATA_DIR=$dd socat TCP-LISTEN:"$port",bind=127.0.0.1,reuseaddr,fork,max-children=1024,backlog=1024 \
      EXEC:"$cmd",nofork 2>"$RGS_TMP/server.log" &
    pid=$!
    wait_port "$port"
  fi
  ( sleep $((secs / 2)); pss_sample "$pid" >"$RGS_TMP/mem" ) &
  local sampler=$!
  wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 10s -s "$RGS_ROOT/tests/bench/intake-wrk.lua" \
    "http://127.0.0.1:$port/webhooks" >"$RGS_TMP/wrk.out" 2>&1
  wait "$sampler"
  # stop listening; handlers finish their connection (wrk has closed them)
  local kids; kids=$(pgrep -P "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null
  local i=0; while [ -n "$kids" ] && kill -0 $kids 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
  local st200 req dur p50 p99 max spooled mem c pss
  st200=$(sed -n 's/^statuses.* 200=\([0-9]*\).*/\1/p; s/^statuses 200=\([0-9]*\).*/\1/p' "$RGS_TMP/wrk.out" | head -1)
  st200=${st200:-0}
  read -r req dur < <(sed -n 's/^requests \([0-9]*\) duration_us \([0-9]*\).*/\1 \2/p' "$RGS_TMP/wrk.out")
  read -r p50 p99 max < <(sed -n 's/^latency_us p50=\([0-9]*\) p90=[0-9]* p99=\([0-9]*\) max=\([0-9]*\)/\1 \2 \3/p' "$RGS_TMP/wrk.out")
  # records in the spool: lines of the batch logs and single-entry files
  spooled=$(find "$dd/spool/log" "$dd/spool/new" "$dd/spool/cur" -type f ! -name '*.done' -print0 2>/dev/null |
    xargs -0 -r cat | grep -c .)
  read -r c pss _ <"$RGS_TMP/mem"
  local note=""
  grep -q '^statuses' "$RGS_TMP/wrk.out" || note="wrk failed: $(tail -2 "$RGS_TMP/wrk.out" | tr '\n' ' ')"
  [ "$(grep -o 'statuses.*' "$RGS_TMP/wrk.out")" = "statuses 200=$st200" ] || note="$note other answers: $(grep -o 'statuses.*' "$RGS_TMP/wrk.out")"
  # every 200 the server sent is in its log (one line per request): the
  # spool must hold exactly that many; wrk saw all but those in flight when
  # it stopped (at most one per connection)
  # (resends of a stored message id are answered 200 without being spooled)
  local logged; logged=$(grep 'POST /webhooks 200 ' "$RGS_TMP/server.log" | grep -vc 'not spooled again')
  local ok_spool="no"
  [ "$spooled" = "$logged" ] && [ "$st200" -le "$logged" ] && [ $((logged - st200)) -le "$conns" ] && ok_spool=yes
  grep -v ' 200 ' "$RGS_TMP/server.log" | grep -v '^rgs-accept: info' | sort | uniq -c | sort -rn | head -3 | awk -v p="# $name server log: " '{print p $0}' >>"$RGS_TMP/notes"
  awk -v n="$name" -v req="${req:-0}" -v dur="${dur:-1}" -v a="$st200" -v p50="${p50:-0}" -v p99="${p99:-0}" \
      -v max="${max:-0}" -v sp="$spooled" -v oks="$ok_spool" -v c="${c:-0}" -v pss="${pss:-0}" -v note="$note" \
    'BEGIN { printf "%-28s %9.0f %9.0f %8.1f %8.1f %8.1f %7s %-3s %7.2fMB %s\n", n, req/(dur/1e6), a/(dur/1e6),
             p50/1000, p99/1000, max/1000, sp, oks, (c ? pss/c/1024 : 0), note " (" c " handlers)" }'
  [ "$name" = "reference: --dry-run" ] || echo "# $name: wrk saw $st200 answers 200, the server logged $logged, the spool holds $spooled" >>"$RGS_TMP/notes"
  echo "$name $((st200 * 1000000 / ${dur:-1}))" >>"$RGS_TMP/rates"
  rm -rf "$dd"
}

run "rgs-accept + rgs-verify" accept
run "socat + rgs-verify" socat
run "reference: --dry-run" accept -n
# latency at the target rate: an offered load of about $rate webhooks/s
# (closed-loop runs above measure saturation, where by Little's law the mean
# latency is connections / throughput whatever the server does)
rate=${RGS_BENCH_RATE:-1000}
export RGS_BENCH_DELAY_MS=$((conns * 1000 / rate))
run "rgs-accept, ~$rate/s offered" accept
run "socat, ~$rate/s offered" socat
unset RGS_BENCH_DELAY_MS
# the disk's floor: $conns processes appending + fdatasync, nothing else
if cc -O2 -o "$RGS_TMP/fsync-ref" "$RGS_ROOT/tests/bench/intake-fsync-ref.c" 2>/dev/null; then
  sync
  read -r fr f50 f99 fmax < <("$RGS_TMP/fsync-ref" "$conns" "$secs" "$RGS_TMP/ref.log")
  printf '%-28s %9s %9.0f %8.1f %8.1f %8.1f %11s %9s %s\n' "reference: disk floor" - "${fr:-0}" "${f50:-0}" "${f99:-0}" "${fmax:-0}" - - \
    "($conns writers: append + fdatasync only)"
fi
awk '{r[NR]=$NF} END { if (r[3] > 0) printf "durable/dry-run acknowledged rate: rgs-accept %.2f, socat %.2f\n", r[1]/r[3], r[2]/r[3] }' "$RGS_TMP/rates"
cat "$RGS_TMP/notes" 2>/dev/null
echo "spooled=200 'yes': the spool holds exactly one entry per 200 the server sent, and wrk saw all of them but those in flight at its stop (dry run writes nothing)"
echo "PSS/conn: proportional set size of the handler processes / their number, sampled mid-run"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews these numbers)"
echo "reproduce: make bench  (or: RGS_BENCH_SECONDS=10 bash tests/bench/bench-intake.sh)"

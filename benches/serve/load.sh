#!/usr/bin/env bash
# Load test of `mercato serve` on loopback, bounded in time (~2.5 min with the defaults):
#   1. single-row `score` at 16 and 64 connections for 10 s each, and /healthz on the same
#      server in the same run: req/s, p50, p99 and the ratio score/healthz;
#   2. a soak of SOAK_S seconds (default 90) of single-row `score`, RSS sampled every 5 s;
#   3. a storm of random bytes, oversized bodies and garbage connections during 10 s of load,
#      then a check that the server still answers.
# Needs wrk (apt-get install -y wrk) and curl. Usage: benches/serve/load.sh [path/to/mercato]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-target/release/mercato}
SOAK_S=${SOAK_S:-90}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -x "$BIN" ] || { echo "build first: cargo build --release -p mercato-cli" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir "$WORK/models"
"$BIN" train detector --algo iforest --input datasets/marketplace/transactions.csv \
  --exclude-cols tx_id,user,pattern,label --out "$WORK/models/fraud.mercato" >/dev/null
"$BIN" serve --models "$WORK/models" --addr 127.0.0.1:0 --threads "$THREADS" >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$WORK/out")
[ -n "$URL" ] || { cat "$WORK/err"; exit 1; }

ROW='{"rows": [[950.0, 3.5, 4, 1, 9, 2.0, 800.0, 6.5]]}'
cat >"$WORK/score.lua" <<LUA
wrk.method = "POST"
wrk.body = '$ROW'
wrk.headers["Content-Type"] = "application/json"
LUA
curl -sf "$URL/v1/models/fraud/score" -d "$ROW" >/dev/null

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
# prints "req/s p50 p99 non2xx" from wrk --latency output
run_wrk() { # conns seconds url [script]
  local out
  out=$(wrk -t2 -c"$1" -d"$2"s --latency ${4:+-s "$4"} "$3")
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps $p50 $p99 ${bad:-0}"
}

echo "mercato serve load test: $(nproc) cores, server --threads $THREADS, wrk -t2, loopback, $(date -u +%FT%TZ)"
echo
printf '%-22s %6s %12s %10s %10s %8s\n' route conns req/s p50 p99 non-2xx
for c in 16 64; do
  read -r h_rps h50 h99 hbad < <(run_wrk "$c" 10 "$URL/healthz")
  printf '%-22s %6s %12s %10s %10s %8s\n' /healthz "$c" "$h_rps" "$h50" "$h99" "$hbad"
  read -r s_rps s50 s99 sbad < <(run_wrk "$c" 10 "$URL/v1/models/fraud/score" "$WORK/score.lua")
  printf '%-22s %6s %12s %10s %10s %8s\n' "score (1 row)" "$c" "$s_rps" "$s50" "$s99" "$sbad"
  awk -v s="$s_rps" -v h="$h_rps" -v c="$c" 'BEGIN {printf "%-22s %6s %12.2f\n", "ratio score/healthz", c, s / h}'
done

echo
echo "soak: ${SOAK_S} s of single-row score at 32 connections; RSS (MiB) every 5 s:"
wrk -t2 -c32 -d"${SOAK_S}"s -s "$WORK/score.lua" "$URL/v1/models/fraud/score" >"$WORK/soak" &
WRK=$!
samples=()
for _ in $(seq $((SOAK_S / 5))); do
  sleep 5
  samples+=("$(( $(rss_kb) / 1024 ))")
done
wait $WRK
echo "  ${samples[*]}"
echo "  $(awk '/Requests\/sec/ {print "req/s " $2}' "$WORK/soak"); $(grep -E 'Non-2xx|Socket errors' "$WORK/soak" || echo 'no errors, no non-2xx')"
echo "  RSS first/last/max: ${samples[0]} / ${samples[-1]} / $(printf '%s\n' "${samples[@]}" | sort -n | tail -1) MiB"

echo
echo "storm: 10 s of score load while random bytes, 9 MiB bodies and garbage connections arrive"
head -c $((9 << 20)) /dev/urandom >"$WORK/big"
wrk -t2 -c16 -d10s -s "$WORK/score.lua" "$URL/v1/models/fraud/score" >"$WORK/storm" &
WRK=$!
HOSTPORT=${URL#http://}
declare -A codes=()
end=$((SECONDS + 9))
while [ $SECONDS -lt $end ]; do
  c=$(head -c $((RANDOM % 4096 + 1)) /dev/urandom | curl -s -o /dev/null -w '%{http_code}' --data-binary @- "$URL/v1/models/fraud/score" || echo ERR)
  codes[$c]=$(( ${codes[$c]:-0} + 1 ))
  c=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$WORK/big" "$URL/v1/models/fraud/score" || echo ERR)
  codes[$c]=$(( ${codes[$c]:-0} + 1 ))
  # raw garbage on a TCP connection (not even HTTP)
  (exec 3<>"/dev/tcp/${HOSTPORT%:*}/${HOSTPORT#*:}" && head -c 2048 /dev/urandom >&3 && timeout 1 cat <&3 >/dev/null; exec 3>&-) 2>/dev/null || true
  codes[garbage_tcp]=$(( ${codes[garbage_tcp]:-0} + 1 ))
done
wait $WRK
for k in "${!codes[@]}"; do echo "  storm responses $k: ${codes[$k]}"; done
echo "  score traffic during the storm: $(awk '/Requests\/sec/ {print "req/s " $2}' "$WORK/storm"); $(grep -E 'Non-2xx|Socket errors' "$WORK/storm" || echo 'no errors, no non-2xx')"
echo "  after the storm: /healthz $(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz"), score $(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/models/fraud/score" -d "$ROW"), RSS $(( $(rss_kb) / 1024 )) MiB"

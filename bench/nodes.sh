#!/usr/bin/env bash
# Several nodes on one PostgreSQL (issue 14 §4):
#  1. incidents recorded per second by one node, then by two nodes at once, each driven by
#     CLIENTS concurrent REST uploads of a marked note for DURATION seconds (every upload
#     is an incident with its evidence and audit entry), then `baomi audit verify`;
#  2. a TERMS-term list imported through node A: the time until node B runs it (from B's
#     log, "state reloaded in N ms") and B's peak memory while the old and new engines
#     coexist;
#  3. DOCS documents registered through node A: the same on node B.
#
#   bench/nodes.sh
#   TERMS=100000 DOCS=10000 DURATION=20 CLIENTS=8 BAOMI_BIN=target/release/baomi bench/nodes.sh
#
# A throwaway PostgreSQL under bench/work/nodes (Debian's binaries), nothing else needed.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BAOMI_BIN:-target/release/baomi}
TERMS=${TERMS:-100000}
DOCS=${DOCS:-10000}
DURATION=${DURATION:-20}
CLIENTS=${CLIENTS:-8}
[ -x "$BIN" ] || cargo build --release -p baomi
echo "binary: $BIN"
work=$PWD/bench/work/nodes
rm -rf "$work"; mkdir -p "$work/shared"
base=$((20000 + RANDOM % 20000))
pgbin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
chown -R postgres "$work"
su postgres -c "$pgbin/initdb -D $work/pg -A trust" >/dev/null
pgport=$((base + 9))
su postgres -c "$pgbin/pg_ctl -D $work/pg -o '-p $pgport -k /tmp -c shared_buffers=256MB' -l $work/pg.log start" >/dev/null
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  su postgres -c "$pgbin/pg_ctl -D $work/pg stop" >/dev/null 2>&1 || true
}
trap cleanup EXIT
sleep 2
url="postgres://postgres@127.0.0.1:$pgport/postgres"

node() { # node NAME PORT
  mkdir -p "$work/$1/data"
  cat > "$work/$1/baomi.toml" <<EOF
data_dir = "$work/$1/data"
[listen]
http = "127.0.0.1:$2"
icap = "off"
milter = "off"
[database]
url = "$url"
[gateway]
evidence_dir = "$work/shared"
[node]
id = "$1"
EOF
}
node a $((base + 1))
node b $((base + 2))
cfg_a=$work/a/baomi.toml
cfg_b=$work/b/baomi.toml
echo "officer-password-2026" | "$BIN" --config "$cfg_a" user add officer --role secadmin --password-stdin >/dev/null
token=$("$BIN" --config "$cfg_a" token create bench --user officer)
echo "ops-password-2026-bench" | "$BIN" --config "$cfg_a" user add ops --role sysadmin --password-stdin >/dev/null
ops=$("$BIN" --config "$cfg_a" token create bench-nodes --user ops)
start() { # start NAME -> pid
  BAOMI_LOG=info "$BIN" --config "$work/$1/baomi.toml" serve 2>"$work/$1/serve.log" &
  pids+=($!)
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return
    sleep 0.2
  done
  echo "node $1 did not start"; cat "$work/$1/serve.log"; exit 1
}
start a $((base + 1)); pid_a=${pids[-1]}
start b $((base + 2)); pid_b=${pids[-1]}

# 1. Incidents per second.
load() { # load PORT... : CLIENTS uploads at a time per port for DURATION s; prints the count
  python3 - "$token" "$DURATION" "$CLIENTS" "$@" <<'EOF'
import sys, threading, time, urllib.request
token, duration, clients, ports = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
body = "秘密★1年\n关于设备检修安排的通知\n各单位：请按附表安排检修。\n".encode()
done, failed, lock = [0], [0], threading.Lock()
end = time.time() + duration
def run(port, k):
    i = 0
    while time.time() < end:
        i += 1
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/scan?channel=api&user=bench{k}&name=n{k}-{i}.txt",
            data=body + f"{k}-{i}\n".encode(), headers={"Authorization": f"Bearer {token}"})
        try:
            ok = b'"incidents":["' in urllib.request.urlopen(req, timeout=60).read()
        except Exception:
            ok = False
        with lock:
            (done if ok else failed)[0] += 1
threads = [threading.Thread(target=run, args=(p, f"{p}-{c}")) for p in ports for c in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
print(done[0], failed[0])
EOF
}
read -r one fail1 < <(load $((base + 1)))
read -r two fail2 < <(load $((base + 1)) $((base + 2)))
printf 'incidents/s, one node:  %.1f (%d in %d s, %d failed)\n' "$(echo "$one / $DURATION" | bc -l)" "$one" "$DURATION" "$fail1"
printf 'incidents/s, two nodes: %.1f (%d in %d s, %d failed)\n' "$(echo "$two / $DURATION" | bc -l)" "$two" "$DURATION" "$fail2"
"$BIN" --config "$cfg_b" audit verify | tail -1

# 2–3. Reloads on node B after a change through node A.
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
reloads() { grep -c "state reloaded" "$work/b/serve.log" || true; }
b_current() { # node B runs the store's current versions
  curl -s -H "Authorization: Bearer $ops" "http://127.0.0.1:$((base + 1))/api/v1/nodes" |
    python3 -c 'import json,sys; print(any(n["id"]=="b" and n["current"] for n in json.load(sys.stdin)["nodes"]))'
}
applied() { # applied DESCRIPTION COMMAND...: run it through A, wait until B runs the result
  local what=$1 before rss0 t0 t1 t2 builds
  shift
  before=$(reloads); rss0=$(rss_kib "$pid_b")
  # VmHWM only grows: reset it so the peak is this change's.
  echo 5 > "/proc/$pid_b/clear_refs" 2>/dev/null || true
  t0=$(date +%s%N)
  "$@" >/dev/null
  t1=$(date +%s%N)
  # B's heartbeat (every 5 s) reports what it runs; its log says when each build ended.
  while [ "$(reloads)" = "$before" ] || [ "$(b_current)" != True ]; do sleep 0.1; done
  t2=$(date +%s%N)
  builds=$(grep "state reloaded" "$work/b/serve.log" | tail -n +"$((before + 1))" |
    sed 's/.*state reloaded in \([0-9]*\) ms.*/\1/' | paste -sd+)
  echo "$what: stored through A in $(( (t1 - t0) / 1000000 )) ms; B current $(( (t2 - t1) / 1000000 )) ms after that (heartbeat-bound, 5 s); B's builds: $builds ms; B's memory $((rss0 / 1024)) MB before, peak $(( $(peak_kib "$pid_b") / 1024 )) MB, after $(( $(rss_kib "$pid_b") / 1024 )) MB"
}
python3 bench/gen_text.py terms "$work/terms.txt" "$TERMS"
applied "$TERMS-term list" "$BIN" --config "$cfg_a" dict import "$work/terms.txt" --name bench
mkdir -p "$work/docs"
python3 - "$work/docs" "$DOCS" <<'EOF'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
prose = open(os.path.join("bench", "prose.txt"), encoding="utf-8").read().split("\n")
prose = [p for p in prose if len(p) > 20]
rng = random.Random(7)
for i in range(n):
    paras = rng.sample(prose, min(8, len(prose)))
    with open(os.path.join(out, f"doc-{i:05}.txt"), "w", encoding="utf-8") as f:
        f.write(f"机密★5年\n第{i}号文件\n" + "\n".join(paras) + f"\n编号{i}\n")
EOF
applied "$DOCS documents" sh -c "'$BIN' --config '$cfg_a' fingerprint add --level secret '$work'/docs/*.txt"

#!/usr/bin/env bash
# Added latency of the ICAP door: p50/p99 of a 100 KB upload through Squid with and without
# the Baomi ICAP service, in one run against the same Squid and upstream.
#
#   bench/icap_latency.sh            # N=300 uploads per path, interleaved
#
# One Squid listens on two ports: one sends requests to icap://127.0.0.1:PORT/reqmod (the
# door from `cargo run --release -p baomi-icap --example icap_serve`, engine with the shipped
# default policy), the other bypasses ICAP. A small Python upstream answers every POST.
# The upload is a clean 100 KB multipart text file, so every request is inspected and
# passes (204). Times are curl's time_total per request over loopback.
#
# Knobs (environment): N=300 SIZE_KB=100. Needs: squid, curl, python3, cargo.
set -euo pipefail
say() { echo "icap_latency.sh: $*" >&2; }
die() { say "$*"; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
N=${N:-300}
SIZE_KB=${SIZE_KB:-100}
for t in squid curl python3 cargo; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || die "$t is missing (scripts/deps.sh test)"
done
SQUID=$(command -v squid || echo /usr/sbin/squid)

work=$(mktemp -d)
chmod 777 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

say "building the example server (release)"
(cd "$root" && cargo build --release -q -p baomi-icap --example icap_serve)
target=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
icap_port=$(free_port); up_port=$(free_port); p_icap=$(free_port); p_plain=$(free_port)

"$target/release/examples/icap_serve" "127.0.0.1:$icap_port" 2>"$work/icap.log" &
pids+=($!)

cat >"$work/upstream.py" <<PY
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
S(("127.0.0.1", $up_port), H).serve_forever()
PY
python3 "$work/upstream.py" &
pids+=($!)

cat >"$work/squid.conf" <<CONF
http_port 127.0.0.1:$p_icap name=icap_port
http_port 127.0.0.1:$p_plain name=plain_port
pid_filename $work/squid.pid
cache_log $work/cache.log
access_log none
cache_store_log none
coredump_dir $work
cache deny all
cache_mem 8 MB
shutdown_lifetime 0 seconds
http_access allow all
acl via_icap myportname icap_port
icap_enable on
icap_preview_enable on
icap_persistent_connections on
icap_service baomi_req reqmod_precache bypass=0 icap://127.0.0.1:$icap_port/reqmod
adaptation_access baomi_req allow via_icap
adaptation_access baomi_req deny all
CONF
"$SQUID" -N -f "$work/squid.conf" &
pids+=($!)

for i in $(seq 100); do
    (echo >/dev/tcp/127.0.0.1/$p_icap) 2>/dev/null && (echo >/dev/tcp/127.0.0.1/$icap_port) 2>/dev/null && break
    sleep 0.1
done

python3 - "$work/up.txt" "$SIZE_KB" <<'PY'
import sys
line = "关于召开年度工作会议的通知，请各部门按时参加，会议材料另行下发。\n"
data = (line * (int(sys.argv[2]) * 1024 // len(line.encode()) + 1)).encode()[: int(sys.argv[2]) * 1024]
open(sys.argv[1], "wb").write(data)
PY

say "warming up"
for port in $p_icap $p_plain; do
    for i in 1 2 3 4 5; do
        curl -sS -o /dev/null -H 'Expect:' -x "http://127.0.0.1:$port" -F "file=@$work/up.txt" "http://127.0.0.1:$up_port/up"
    done
done
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Expect:' -x "http://127.0.0.1:$p_icap" -F "file=@$work/up.txt" "http://127.0.0.1:$up_port/up")
[ "$code" = 200 ] || die "upload through ICAP answered $code (cache.log: $work/cache.log)"

say "$N uploads of ${SIZE_KB} KB per path, interleaved"
: >"$work/icap.t"; : >"$work/plain.t"
for i in $(seq "$N"); do
    curl -sS -o /dev/null -w '%{time_total}\n' -H 'Expect:' -x "http://127.0.0.1:$p_icap" \
        -F "file=@$work/up.txt" "http://127.0.0.1:$up_port/up" >>"$work/icap.t"
    curl -sS -o /dev/null -w '%{time_total}\n' -H 'Expect:' -x "http://127.0.0.1:$p_plain" \
        -F "file=@$work/up.txt" "http://127.0.0.1:$up_port/up" >>"$work/plain.t"
done

python3 - "$work/icap.t" "$work/plain.t" <<'PY'
import sys
def load(p): return sorted(float(x) * 1000 for x in open(p) if x.strip())
def pct(v, q): return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]
icap, plain = load(sys.argv[1]), load(sys.argv[2])
print(f"{'path':<14}{'n':>5}{'p50 ms':>10}{'p99 ms':>10}")
for name, v in (("squid+icap", icap), ("squid only", plain)):
    print(f"{name:<14}{len(v):>5}{pct(v,50):>10.2f}{pct(v,99):>10.2f}")
print(f"added by ICAP: p50 {pct(icap,50)-pct(plain,50):+.2f} ms, p99 {pct(icap,99)-pct(plain,99):+.2f} ms")
PY

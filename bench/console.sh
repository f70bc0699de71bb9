#!/usr/bin/env bash
# How fast the console's pages render over a large store: N incidents (default 1,000,000)
# written straight into the database (SQLite, and PostgreSQL with BACKEND=postgres), then
# `baomi serve` and REQUESTS timed requests per page as the security officer, p50/p95
# printed.
#
#   bench/console.sh                      # SQLite
#   BACKEND=postgres bench/console.sh     # PostgreSQL (a throwaway server under bench/work)
#
# Knobs: N=1000000 REQUESTS=40 BAOMI_BIN=target/release/baomi.
# The rows are written with SQL (generate_series / a recursive CTE), not through the
# gateway: this measures reading, not recording. `audit verify` on such a store fails, as it
# should (the rows are not in the chain).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
REQUESTS=${REQUESTS:-40}
BACKEND=${BACKEND:-sqlite}
BIN=${BAOMI_BIN:-target/release/baomi}
[ -x "$BIN" ] || cargo build --release -p baomi
echo "binary: $BIN"
work=bench/work/console-$BACKEND
rm -rf "$work"; mkdir -p "$work/data"
port=$((20000 + RANDOM % 20000))
url=""
pgbin=""
if [ "$BACKEND" = postgres ]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
  chown -R postgres "$work"
  su postgres -c "$pgbin/initdb -D $work/pg -A trust" >/dev/null
  pgport=$((port + 1))
  su postgres -c "$pgbin/pg_ctl -D $work/pg -o '-p $pgport -k /tmp -c shared_buffers=512MB' -l $work/pg.log start" >/dev/null
  trap 'su postgres -c "$pgbin/pg_ctl -D $work/pg stop" >/dev/null 2>&1 || true' EXIT
  sleep 2
  url="postgres://postgres@127.0.0.1:$pgport/postgres"
fi
dbline=""
[ -n "$url" ] && dbline="url = \"$url\""
cat > "$work/baomi.toml" <<EOF
data_dir = "$PWD/$work/data"
[listen]
http = "127.0.0.1:$port"
icap = "off"
milter = "off"
[database]
$dbline
EOF
cfg="$work/baomi.toml"
echo "officer-password-2026" | "$BIN" --config "$cfg" user add officer --role secadmin --password-stdin >/dev/null
# Rows spread over the last 365 days, levels, channels, departments, rules, dispositions.
gen_select="SELECT
  'BM-' || i, NOW_MS - (i * 31536000000 / $N), CH, 'user' || (i % 500), DEP,
  '10.0.' || (i % 250) || '.' || (i % 200), 'http://pan.example.cn/upload', 'file' || i || '.docx', 20480, 'docx',
  ACT, 'critical', LEV, RULES, '[{\"kind\":\"marking\",\"level\":\"secret\",\"part\":\"f.docx\",\"line\":1,\"text\":\"机密★1年\",\"reason\":\"★ and period\"}]',
  'x', DISP"
cols="number, created_ms, channel, user_name, department, source, destination, object_name, object_size, object_type, action, severity, level, rules, findings, content_hash, disposition"
now_ms=$(($(date +%s) * 1000))
sub() {
  sed -e "s/NOW_MS/$now_ms/" \
      -e "s/CH/(CASE i % 3 WHEN 0 THEN 'web' WHEN 1 THEN 'mail' ELSE 'api' END)/" \
      -e "s/DEP/'部门' || (i % 40)/" \
      -e "s/ACT/(CASE i % 4 WHEN 0 THEN 'alert' ELSE 'block' END)/" \
      -e "s/LEV/(CASE i % 3 WHEN 0 THEN 'secret' WHEN 1 THEN 'confidential' ELSE 'top_secret' END)/" \
      -e "s/RULES/(CASE i % 2 WHEN 0 THEN '[\"state-secret-marking\"]' ELSE '[\"state-secret-marking-high\",\"personal-data\"]' END)/" \
      -e "s/DISP/(CASE i % 5 WHEN 0 THEN 'open' WHEN 1 THEN 'violation' ELSE 'false_positive' END)/"
}
t0=$(date +%s)
if [ "$BACKEND" = postgres ]; then
  psql -q "$url" -c "INSERT INTO incidents ($cols) $(echo "$gen_select" | sub) FROM generate_series(1, $N) AS i;"
  # One statement of a million rows leaves a million dead versions of the few thousand
  # counts rows its triggers updated; autovacuum clears them in a running system, a bulk
  # load does not wait for it.
  psql -q "$url" -c "VACUUM ANALYZE incidents" -c "VACUUM ANALYZE incident_counts" -c "VACUUM ANALYZE incident_facets"
else
  sqlite3 "$work/data/baomi.db" "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $N)
    INSERT INTO incidents ($cols) $(echo "$gen_select" | sub) FROM s; ANALYZE;"
fi
echo "$N incidents written in $(( $(date +%s) - t0 )) s ($BACKEND)"
"$BIN" --config "$cfg" serve 2>"$work/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; su postgres -c "$pgbin/pg_ctl -D $work/pg stop" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
jar="$work/cookies"
curl -s -c "$jar" -o /dev/null -H "Origin: http://127.0.0.1:$port" \
  --data "username=officer&password=officer-password-2026" "http://127.0.0.1:$port/login"
measure() {
  local name=$1 path=$2
  curl -s -b "$jar" -o /dev/null "http://127.0.0.1:$port$path"  # warm-up
  for _ in $(seq "$REQUESTS"); do
    curl -s -b "$jar" -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$path"
  done | sort -n | awk -v name="$name" '{ t[NR] = $1 } END {
    p50 = t[int(NR * 0.5 + 0.5)]; p95 = t[int(NR * 0.95 + 0.5)];
    printf "%-44s p50 %6.1f ms   p95 %6.1f ms\n", name, p50 * 1000, p95 * 1000 }'
}
measure "queue, newest first" "/incidents"
measure "queue, level+disposition+channel filter" "/incidents?level=secret&disposition=open&channel=web"
measure "queue, department + last 7 days, page 3" "/incidents?department=部门7&from=$(date -d '7 days ago' +%F)&page=3"
measure "queue, free text on object name" "/incidents?q=file12345"
measure "dashboard, last 30 days" "/dashboard"
measure "dashboard, whole year" "/dashboard?from=$(date -d '365 days ago' +%F)&to=$(date +%F)"
measure "incident detail" "/incidents/BM-12345"

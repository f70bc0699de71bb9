#!/usr/bin/env bash
# Make the schema-upgrade fixtures with an earlier release's own binary, so the upgrade test
# opens stores that release really wrote (not tables rebuilt by today's code):
#
#   git worktree add /tmp/old REV && (cd /tmp/old && cargo build -p baomi)
#   scripts/make-release-fixture.sh REV /tmp/old/target/debug/baomi
#
# writes crates/baomi/tests/fixtures/release-REV/:
#   sqlite/   the data directory (baomi.db, evidence/, evidence.key) after a clean stop
#   postgres/ dump.sql (pg_dump --format=plain) and the data directory without a database
#   uploads/  the files that were scanned, to compare the evidence with
# Not run by CI; crates/baomi/tests/upgrade_release.rs reads its output.
set -euo pipefail
rev=${1:?revision}
bin=$(realpath "${2:?baomi binary of that revision}")
here=$(cd "$(dirname "$0")/.." && pwd)
out=$here/crates/baomi/tests/fixtures/release-$rev
work=$(mktemp -d /tmp/baomi-fixture.XXXXXX)
chmod 755 "$work"   # the PostgreSQL server runs as postgres
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out/uploads"

# What the old release is given: a marked notice (blocked), a list of ten resident IDs
# (blocked as bulk personal data), one mobile number (allowed, not recorded).
printf '机密★5年\n关于调整人员编制的通知\n各单位：现将有关事项通知如下。\n' > "$out/uploads/1-notice.txt"
python3 - "$out/uploads/2-list.txt" <<'EOF'
import sys
w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
lines = []
for i in range(10):
    body = "11010519491231%03d" % (100 + i)
    s = sum(int(c) * k for c, k in zip(body, w))
    lines.append("张%d %s%s" % (i, body, "10X98765432"[s % 11]))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF
printf '联系电话：13812345678\n' > "$out/uploads/3-phone.txt"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# $1 directory, $2 extra config lines: a store made and filled by the old binary.
fill_store() {
    local dir=$1 extra=$2 http
    http=$(port)
    mkdir -p "$dir/data"
    printf 'data_dir = "%s"\n[listen]\nhttp = "127.0.0.1:%s"\nicap = "off"\nmilter = "off"\n%s' \
        "$dir/data" "$http" "$extra" > "$dir/baomi.toml"
    local cfg=$dir/baomi.toml
    echo 'old-officer-password-2026' | "$bin" --config "$cfg" user add old-officer \
        --role secadmin --display-name 旧版保密员 --password-stdin >/dev/null
    local token
    token=$("$bin" --config "$cfg" token create fixture --user old-officer)
    "$bin" --config "$cfg" serve 2>"$dir/serve.log" &
    local pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break
        sleep 0.2
    done
    for f in "$out"/uploads/*; do
        curl -sf -H "Authorization: Bearer $token" --data-binary "@$f" \
            "http://127.0.0.1:$http/api/v1/scan?channel=web&name=$(basename "$f")" >/dev/null
    done
    kill "$pid"
    wait "$pid" || true
}

# SQLite: the data directory as the old release left it.
fill_store "$work/sqlite" ""
[ ! -e "$work/sqlite/data/baomi.db-wal" ] || [ ! -s "$work/sqlite/data/baomi.db-wal" ] \
    || { echo "the old release left a WAL file: not a clean stop" >&2; exit 1; }
mkdir -p "$out/sqlite"
cp -a "$work/sqlite/data/." "$out/sqlite/"
rm -f "$out/sqlite/baomi.db-wal" "$out/sqlite/baomi.db-shm"

# PostgreSQL: a throwaway server; the dump is what an operator's pg_dump would hold.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1)
pgdir=$work/pg
mkdir -p "$pgdir"
chown postgres:postgres "$pgdir"
runuser -u postgres -- "$pgbin/initdb" -A trust -U postgres -E UTF8 --no-sync -D "$pgdir/data" >/dev/null
pgport=$(port)
runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1" \
    -l "$pgdir/log" -w start >/dev/null
trap 'runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$work"' EXIT
url="postgres://postgres@127.0.0.1:$pgport/postgres"
fill_store "$work/postgres" "[database]
url = \"$url\"
"
mkdir -p "$out/postgres"
"$pgbin/pg_dump" --format=plain --no-owner --no-privileges "$url" > "$out/postgres/dump.sql"
cp -a "$work/postgres/data/." "$out/postgres/"
echo "fixtures of $rev in $out:"
du -sh "$out"/*

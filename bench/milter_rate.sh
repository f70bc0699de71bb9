#!/usr/bin/env bash
# Messages per second through a real Postfix with and without the Baomi milter, in one run.
#
#   sudo bench/milter_rate.sh            # MSGS=500 SESSIONS=20 SIZE=4096
#
# Starts a throw-away Postfix (own config, queue and data directories under a temporary
# directory; loopback only) with two smtpd listeners: one with
# `smtpd_milters = inet:127.0.0.1:PORT` (the `milter_engine` example: Baomi's engine with
# the shipped default policy), one without. Accepted mail is discarded after queueing
# (`default_transport = discard`), so the figure is what the SMTP entrance sustains.
# Postfix's smtp-source sends MSGS messages of SIZE bytes over SESSIONS parallel sessions to
# each listener; then swaks sends MARKED copies of a mail with a marked .docx in a zip
# (must all be rejected) in parallel, to time the inspection of real attachments.
#
# Needs root, postfix (smtp-source), swaks, /usr/bin/python3 with python3-docx, cargo.
# The release example is built with `cargo build --release -p baomi-milter --example
# milter_engine` (MILTER_BIN overrides).
set -euo pipefail

die() { echo "milter_rate.sh: $*" >&2; exit 1; }
say() { echo "milter_rate.sh: $*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
MSGS=${MSGS:-500}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-4096}
MARKED=${MARKED:-40}

[ "$(id -u)" -eq 0 ] || die "needs root (it starts a Postfix)"
for tool in postfix smtp-source swaks cargo; do
    command -v "$tool" >/dev/null || die "missing tool: $tool (scripts/deps.sh test)"
done

if [ -z "${MILTER_BIN:-}" ]; then
    say "building the milter_engine example (release)"
    (cd "$repo" && cargo build --release -q -p baomi-milter --example milter_engine)
    target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    MILTER_BIN=$target/release/examples/milter_engine
fi
[ -x "$MILTER_BIN" ] || die "no milter binary at $MILTER_BIN"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

work=$(mktemp -d /tmp/baomi-milter-bench.XXXXXX)
chmod 755 "$work"
mkdir -p "$work"/{conf,queue,data}
chown postfix "$work/data"
milter_port=$(free_port)
plain_port=$(free_port)
filtered_port=$(free_port)
milter_pid=
cleanup() {
    postfix -c "$work/conf" stop >/dev/null 2>&1 || true
    [ -n "$milter_pid" ] && kill "$milter_pid" 2>/dev/null || true
    sleep 1
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $work/queue
data_directory = $work/data
maillog_file_prefixes = $work
maillog_file = $work/maillog
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mx.baomi.test
mydomain = baomi.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
default_transport = discard
alias_maps =
biff = no
disable_dns_lookups = yes
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
default_process_limit = 200
milter_default_action = tempfail
milter_protocol = 6
smtpd_milters =
EOF
cat >"$work/conf/master.cf" <<EOF
$plain_port inet n - n - - smtpd
$filtered_port inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:$milter_port
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
EOF

"$MILTER_BIN" "127.0.0.1:$milter_port" 2>"$work/milter.log" &
milter_pid=$!
postfix -c "$work/conf" start >/dev/null 2>&1 || die "postfix did not start: $(cat "$work/maillog")"
for port in "$plain_port" "$filtered_port" "$milter_port"; do
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
done

now() { date +%s.%N; }
rate() { python3 -c "import sys; n,t=float(sys.argv[1]),float(sys.argv[2]); print(f'{n/t:.1f} msg/s ({t:.2f} s)')" "$@"; }

run_source() { # port
    local t0 t1
    t0=$(now)
    smtp-source -s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f alice@example.test \
        -t bob@example.test "127.0.0.1:$1"
    t1=$(now)
    python3 -c "import sys; print(float(sys.argv[2])-float(sys.argv[1]))" "$t0" "$t1"
}

accepted() { grep -c "$1" "$work/maillog" || true; }

say "warm-up"
MSGS=$SESSIONS run_source "$plain_port" >/dev/null
MSGS=$SESSIONS run_source "$filtered_port" >/dev/null

t_plain=$(run_source "$plain_port")
t_milter=$(run_source "$filtered_port")

# Real attachments: MARKED marked mails, 8 swaks in parallel, all must be rejected.
/usr/bin/python3 "$repo/crates/baomi-milter/tests/data/make_marked_mail.py" "$work/marked.eml" ||
    die "python3-docx missing"
t0=$(now)
seq "$MARKED" | xargs -P 8 -I{} sh -c \
    "swaks --server 127.0.0.1:$filtered_port --from alice@example.test --to bob@example.test \
       --data @$work/marked.eml >$work/swaks.{}.log 2>&1 || true"
t1=$(now)
rejected=$(grep -l "550 5.7.1" "$work"/swaks.*.log | wc -l)
t_marked=$(python3 -c "import sys; print(float(sys.argv[2])-float(sys.argv[1]))" "$t0" "$t1")

echo "messages: $MSGS of $SIZE bytes over $SESSIONS sessions (smtp-source), CPUs: $(nproc)"
echo "  postfix alone:         $(rate "$MSGS" "$t_plain")"
echo "  postfix + baomi milter: $(rate "$MSGS" "$t_milter")"
echo "marked .docx-in-zip mails (swaks, 8 in parallel): $rejected/$MARKED rejected, $(rate "$MARKED" "$t_marked")"
tempfails=$(grep -c "milter-reject: END-OF-MESSAGE.*4\.7\.1" "$work/maillog" || true)
echo "  tempfails during the run: $tempfails"
sleep 2
sent=$(grep -c "status=sent" "$work/maillog" || true)
expected=$((2 * SESSIONS + 2 * MSGS))
echo "  smtp-source messages accepted and discarded: $sent of $expected"
[ "$sent" -eq "$expected" ] || die "not every smtp-source message went through"
[ "$rejected" -eq "$MARKED" ] || die "not every marked mail was rejected"

#!/usr/bin/env bash
# The interception CA Squid signs its per-site certificates with (ssl-bump). openssl only.
#
#   scripts/make-interception-ca.sh DIR [DAYS] [NAME]
#
# writes DIR/baomi-interception-ca.pem (key and certificate, for Squid's `tls-cert=`; keep it
# readable by root and the proxy user only) and DIR/baomi-interception-ca.crt (the
# certificate alone: deploy it to the office browsers' trust stores, e.g. by group policy
# or /usr/local/share/ca-certificates + update-ca-certificates).
set -euo pipefail
dir=${1:?directory}
days=${2:-3650}
name=${3:-Baomi interception CA}
mkdir -p "$dir"
umask 077
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -days "$days" -subj "/O=Baomi/CN=$name" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca.key" -out "$dir/baomi-interception-ca.crt" 2>/dev/null
cat "$dir/ca.key" "$dir/baomi-interception-ca.crt" > "$dir/baomi-interception-ca.pem"
rm -f "$dir/ca.key"
chmod 640 "$dir/baomi-interception-ca.pem"
chmod 644 "$dir/baomi-interception-ca.crt"
echo "$dir/baomi-interception-ca.pem (for squid.conf tls-cert=), $dir/baomi-interception-ca.crt (for browsers)"

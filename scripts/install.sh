#!/usr/bin/env bash
# Set up Baomi on this machine: system packages (run time and build), then the `baomi`
# binary (with OCR) into ~/.cargo/bin.
#   --agent  also set up an office computer (as root): the binary as /usr/local/bin/baomi
#            (root-owned: CUPS runs the print backend as root), the CUPS backend
#            /usr/lib/cups/backend/baomi (mode 0700, so CUPS runs it as root), the agent's
#            config (if none yet) and systemd unit.
set -euo pipefail
cd "$(dirname "$0")/.."
agent=no
for arg in "$@"; do
  case "$arg" in
    --agent) agent=yes ;;
    *) echo "usage: $0 [--agent]" >&2; exit 2 ;;
  esac
done
scripts/deps.sh build
cargo install --locked --path crates/baomi
bin=${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin
echo "installed: $bin/baomi"
case ":$PATH:" in *":$bin:"*) ;; *) echo "add $bin to PATH to run 'baomi'";; esac
if [ "$agent" = yes ]; then
  [ "$(id -u)" -eq 0 ] || { echo "--agent must run as root" >&2; exit 1; }
  # PostScript print jobs are read through Ghostscript; CUPS itself is the unit's.
  dpkg-query -W -f='${Status}' ghostscript 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ghostscript
  install -m 0755 -o root -g root "$bin/baomi" /usr/local/bin/baomi
  # The backend runs as root (mode 0700) and executes /usr/local/bin/baomi, which is
  # therefore root's and nobody else's to change.
  backend_dir=/usr/lib/cups/backend
  install -d -m 0755 "$backend_dir"
  tmp=$(mktemp)
  printf '#!/bin/sh\n# Baomi (保密) CUPS backend: device URIs baomi:/<real device URI>.\nexec /usr/local/bin/baomi cups-backend "$@"\n' > "$tmp"
  install -m 0700 -o root -g root "$tmp" "$backend_dir/baomi"
  rm -f "$tmp"
  echo "installed: $backend_dir/baomi (lpadmin -p NAME -E -v baomi:/<device URI> …)"
  install -d -m 0700 /etc/baomi /var/lib/baomi-agent
  if [ -f packaging/agent.toml.example ] && [ ! -e /etc/baomi/agent.toml ]; then
    install -m 0600 packaging/agent.toml.example /etc/baomi/agent.toml
    echo "installed: /etc/baomi/agent.toml (edit: server, token_file, contact)"
  fi
  if [ -f packaging/baomi-agent.service ]; then
    install -m 0644 packaging/baomi-agent.service /etc/systemd/system/baomi-agent.service
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl daemon-reload
      echo "installed: baomi-agent.service (start it: systemctl enable --now baomi-agent)"
    fi
  fi
fi

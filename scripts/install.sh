#!/usr/bin/env bash
# Set up Baomi on this machine: system packages (run time and build), then the `baomi`
# binary (with OCR) into ~/.cargo/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cargo install --locked --path crates/baomi
bin=${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin
echo "installed: $bin/baomi"
case ":$PATH:" in *":$bin:"*) ;; *) echo "add $bin to PATH to run 'baomi'";; esac

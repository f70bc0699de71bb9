#!/usr/bin/env bash
# Set up Baomi on this machine: system packages, then the `baomi` binary into ~/.cargo/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh runtime
cargo install --locked --path crates/baomi
echo "installed: $(command -v baomi || echo ~/.cargo/bin/baomi)"

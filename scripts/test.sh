#!/usr/bin/env bash
# Run every test: installs the real tools the tests use, then the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cargo test --workspace --locked "$@"
# The REST API against its OpenAPI document (schemathesis), one bounded pass per role.
scripts/api-fuzz.sh

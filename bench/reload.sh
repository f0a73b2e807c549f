#!/usr/bin/env bash
# Hot reload latency and 50-group cold/warm start-up (see
# tests/benches/reload.rs); the figures are also written to bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
cargo bench -p toolhost-tests --bench reload | tee bench/out/reload.txt

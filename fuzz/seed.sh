#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the real files in fixtures/ and shared/docs/samples
# (see src/seeds.rs for what is cut from where). The corpora are not committed (.gitignore).
set -euo pipefail
cd "$(dirname "$0")"
cargo run --quiet --release --bin seed -- corpus
du -sh corpus/* | sed 's/^/  /'

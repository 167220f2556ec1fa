#!/usr/bin/env bash
# Build the portable wheel, install it with the test extras into .venv, run every test.
# Tests run against the installed wheel (the source tree sits under python/, so pytest never
# imports it by accident).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "maturin>=1.16,<2" "ziglang>=0.13"

echo "== cargo test (pure-Rust core)"
cargo test --quiet

echo "== build the wheel (release, manylinux2014 via zig)"
rm -rf dist
maturin build --release --zig --compatibility manylinux2014 -o dist
wheel=$(ls dist/kili_rules-*.whl)
python -m pip install -q --force-reinstall "${wheel}[test]"

echo "== pytest against the installed wheel"
python -m pytest -q tests "$@"

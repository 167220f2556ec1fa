#!/usr/bin/env bash
# The one abi3 wheel in dist/ against every other supported Python: a fresh venv per version,
# a plain `pip install` of the wheel (as a user would), then the core tests. The full suite
# runs on the main interpreter (scripts/test.sh); this keeps the added CI time small.
# Usage: scripts/test-matrix.sh [VERSION...]   (default 3.10 3.12 3.13)
set -euo pipefail
cd "$(dirname "$0")/.."

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.10 3.12 3.13)
wheel=$(ls dist/kili_rules-*-abi3-*.whl)
core=(tests/test_rule_kinds.py tests/test_fixtures.py tests/test_garbage.py tests/test_export.py
      tests/test_cli.py tests/test_seed.py tests/test_areas.py tests/test_guardrails.py
      tests/test_standalone.py)

find_python() {
    local v=$1 p
    # pyenv's versions first: its shims on PATH answer for versions that are not selected.
    for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v"*/bin/"python$v" "python$v"; do
        if "$p" -c "import sys" >/dev/null 2>&1; then command -v "$p"; return; fi
    done
    return 1
}

declare -A result
for v in "${versions[@]}"; do
    echo "== Python $v: fresh venv, pip install the wheel, core tests"
    py=$(find_python "$v") || { echo "Python $v not found (PATH or pyenv)"; exit 1; }
    venv=".venv-py$v"
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q "$wheel" "PyYAML>=6" "pytest>=8" "hypothesis>=6" "shapely>=2"
    "$venv/bin/kili-rules" --version
    # -p no:cacheprovider: parallel interpreters, one source tree
    if "$venv/bin/python" -m pytest -q -p no:cacheprovider "${core[@]}" -k "not serve and not register"; then
        result[$v]=passed
    else
        result[$v]=FAILED
    fi
done

echo "== Python matrix (wheel: $(basename "$wheel"))"
status=0
for v in "${versions[@]}"; do
    printf '  %-6s %s\n' "$v" "${result[$v]}"
    [ "${result[$v]}" = passed ] || status=1
done
exit $status

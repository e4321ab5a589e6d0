#!/usr/bin/env bash
# Reproduce every table and figure:   bash run_all.sh [offline|quick|paper]
# Run the tests:                      bash run_all.sh test
#
# The first call creates .venv and installs requirements*.txt into it; later calls
# reuse it (it is reinstalled only when a requirements file changes).
set -euo pipefail
cd "$(dirname "$0")"
profile="${1:-offline}"

setup() {
    local stamp=.venv/.requirements.sha
    local want
    want=$(cat requirements.txt requirements-offline.txt | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
    echo "== setting up .venv (first run only; a few minutes)"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -r requirements.txt
    .venv/bin/pip install --quiet --no-deps -r requirements-offline.txt
    echo "$want" > "$stamp"
}

case "$profile" in
    offline|quick|paper|test) ;;
    *) echo "error: unknown profile '$profile'; choose offline, quick, paper or test" >&2; exit 2 ;;
esac
setup
export PYTHONUNBUFFERED=1
py=.venv/bin/python

if [ "$profile" = test ]; then
    exec "$py" -m pytest -q
fi

mkdir -p results
echo "== layer mappings (results/mapping.md)"
{ "$py" mapping.py 12 3; echo; "$py" mapping.py 6 2; } > results/mapping.md.tmp
mv results/mapping.md.tmp results/mapping.md
cat results/mapping.md

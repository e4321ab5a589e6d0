#!/usr/bin/env bash
# Reproduce every table and figure:   bash run_all.sh [offline|quick|paper]
# Run the tests:                      bash run_all.sh test
#
#   offline  (default) runs here: 2 CPU cores, no network, about 40 minutes. The
#            packaged 6-layer MiniLM teacher, synthetic tasks built by data.py, short
#            training: a smaller real experiment, not the paper's setup.
#   quick    one task, one seed, very short runs, every table present (~5 minutes).
#   paper    the authors' setup (bert-base-uncased on GLUE, bart-large on DART, t5-base
#            on WMT16 En-Ro, the authors' scripts' settings): needs the Hugging Face hub and GPUs; independent
#            jobs are spread over all visible GPUs.
#
# The first call creates .venv and installs requirements*.txt into it. Every job is
# resumable: a run whose metrics.json exists is skipped, so an interrupted call picks
# up where it stopped and a second call finishes in seconds. Tables and figures go to
# results/<profile>/, the full log to results/<profile>/run_all.log.
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
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
py=.venv/bin/python
if [ "$profile" = test ]; then
    exec "$py" -m pytest -q
fi

runs=runs/$profile
results=results/$profile
log=$results/run_all.log
mkdir -p "$runs" "$results"

# ---------------------------------------------------------------- the jobs of each profile
# job TABLE/NAME SECONDS distill.py-flags...   (SECONDS: the estimate printed in the plan)
# Settings shared by every cell of a table are set once per profile: strategies are
# never tuned separately.
offline_jobs() {
    local steps=${STEPS:-150} seeds=${SEEDS:-"0 1 2"} tasks=${TASKS:-"synth-sentiment synth-nli"}
    local student="--student-layers 2 --lr 1e-3 --max-length 64 --eval-every 50 --max-steps $steps"
    local teacher="--teacher-lr 5e-5 --teacher-max-steps ${TEACHER_STEPS:-200}"
    local grid="--init copy,random --strategy none,forward,reverse,all-to-one,random"
    for task in $tasks; do
        for seed in $seeds; do
            job "classification/$task" $((steps * 12 / 10)) --task "$task" $grid --seed "$seed" $student $teacher \
                --teacher-dir "$runs/teachers/$task"
        done
    done
    # BERT2BERT steps cost about 3x a classifier's: batch 16, one seed, two evaluations
    local d2t="--task synth-d2t --teacher-dir $runs/teachers/synth-d2t --teacher-lr 2e-4 --batch-size 16
               --teacher-max-steps ${D2T_TEACHER_STEPS:-150} --num-beams 4"
    job "generation/synth-d2t" $((steps * 3)) $d2t $grid --seed 0 $student --eval-every $((steps / 2))
    local sentiment="--task synth-sentiment --teacher-dir $runs/teachers/synth-sentiment $teacher"
    for depth in 1 3; do
        job "depth/layers-$depth" $((steps * depth / 2)) $sentiment --init copy,random --strategy none,forward,reverse \
            --seed 0 $student --student-layers "$depth"
    done
    for width in 96 192; do
        job "width/width-$width" $((steps / 3)) $sentiment --init random --strategy none,forward,reverse \
            --seed 0 $student --student-width "$width"
    done
    # Wang et al. 2023: objectives x copying the lower or upper teacher blocks (one run each)
    for objective in kd-only hidden attention; do
        for copy_from in lower upper; do
            job "related/objective-$objective-$copy_from" $((steps / 3)) $sentiment --init copy --strategy forward \
                --seed 0 $student --objective "$objective" --copy-from "$copy_from"
        done
    done
    # Ko et al. 2023 (CR-ILD): all-layer vs last-layer matching, on clean inputs, on mixup
    # inputs, and with consistency regularisation. Bottom-block init as in the study; a
    # smaller training set so the consistency ramp (epoch / n_epochs) spans 3 epochs.
    local crild="$sentiment --init copy --copy-from lower --strategy forward,last --seed 0 $student --n-train 1600"
    job "related/crild-clean" $((steps / 2)) $crild
    job "related/crild-mixup" $((steps * 2 / 3)) $crild --supplementary mixup
    job "related/crild-mixup-consistency" $((steps * 2 / 3)) $crild --supplementary mixup --consistency 0.1
}

quick_jobs() {  # the offline profile, shrunk: one task, one seed, short runs
    STEPS=20 SEEDS=0 TASKS=synth-sentiment TEACHER_STEPS=100 D2T_TEACHER_STEPS=40 offline_jobs
}

paper_jobs() {  # the authors' settings, from their scripts
    local strategies="none,forward,reverse,all-to-one,random"
    for task in mnli qqp qnli sst2; do
        # lr 1e-5 for MNLI and for every all-to-one and random run, 2e-5 otherwise
        local lr=2e-5 epochs=10 teacher_lr=5e-5
        [ "$task" = mnli ] && lr=1e-5
        [ "$task" = sst2 ] && epochs=20
        case "$task" in mnli|qqp) teacher_lr=2e-5 ;; esac
        for init in copy random; do
            job "classification/$task" 36000 --task "$task" --init "$init" --strategy none,forward,reverse \
                --seed 0 --student-layers 3 --lr "$lr" --epochs "$epochs" --teacher-lr "$teacher_lr" \
                --teacher-dir "$runs/teachers/$task"
            job "classification/$task" 36000 --task "$task" --init "$init" --strategy all-to-one,random \
                --seed 0 --student-layers 3 --lr 1e-5 --epochs "$epochs" --teacher-lr "$teacher_lr" \
                --teacher-dir "$runs/teachers/$task"
        done
    done
    for init in copy random; do
        job "generation/dart" 72000 --task dart --init "$init" --strategy "$strategies" --seed 0 --student-layers 3 \
            --lr 1e-4 --batch-size 8 --epochs 18 --freeze-embeddings yes --teacher-dir "$runs/teachers/dart"
        job "generation/wmt16-en-ro" 72000 --task wmt16-en-ro --init "$init" --strategy "$strategies" --seed 0 \
            --student-layers 3 --lr 1e-4 --epochs 40 --temperature 2 --hid-norm layernorm --freeze-embeddings yes \
            --copy-from 1,7,12 --teacher-dir "$runs/teachers/wmt16-en-ro"
    done
    for depth in 6 9; do
        job "depth/layers-$depth" 36000 --task mnli --init copy,random --strategy "$strategies" --seed 0 \
            --student-layers "$depth" --teacher-dir "$runs/teachers/mnli"
    done
    for width in 384 576; do
        job "width/width-$width" 36000 --task mnli --init random --strategy "$strategies" --seed 0 \
            --student-width "$width" --teacher-dir "$runs/teachers/mnli"
    done
}

# ---------------------------------------------------------------- plan, then run
mode=plan n_jobs=0 estimate=0 index=0
gpus=()
if [ "$profile" = paper ] && command -v nvidia-smi >/dev/null; then
    mapfile -t gpus < <(nvidia-smi --query-gpu=index --format=csv,noheader)
fi

teacher_ready() {  # has the --teacher-dir among these flags been fine-tuned? (then jobs may run in parallel)
    while [ $# -gt 1 ]; do
        if [ "$1" = --teacher-dir ]; then [ -f "$2/metrics.json" ]; return; fi
        shift
    done
}

job() {
    local name=$1 seconds=$2
    shift 2
    if [ "$mode" = plan ]; then
        n_jobs=$((n_jobs + 1)) estimate=$((estimate + seconds))
        return
    fi
    index=$((index + 1))
    local started=$SECONDS
    if [ "${#gpus[@]}" -gt 1 ] && teacher_ready "$@"; then  # paper profile: one job per GPU at a time
        while [ "$(jobs -rp | wc -l)" -ge "${#gpus[@]}" ]; do wait -n; done
        local gpu=${gpus[$((index % ${#gpus[@]}))]}
        echo "[$index/$n_jobs] $name on GPU $gpu (background)"
        CUDA_VISIBLE_DEVICES=$gpu "$py" distill.py --out "$runs/$name" "$@" >> "$log.gpu$gpu" 2>&1 &
        return
    fi
    printf '[%d/%d] %-45s ' "$index" "$n_jobs" "$name"
    echo "== [$index/$n_jobs] $name: distill.py --out $runs/$name $*" >> "$log"
    if ! "$py" distill.py --out "$runs/$name" "$@" >> "$log" 2>&1; then
        echo "FAILED (see $log)"
        tail -n 3 "$log" >&2
        exit 1
    fi
    echo "$((SECONDS - started)) s"
}

"${profile}_jobs"
echo "== $profile profile: $n_jobs jobs, estimated $((estimate / 60)) minutes on 2 CPU cores (finished runs are skipped)"
mode=run
"${profile}_jobs"
wait

# The angle interpretation (angles.py) on synth-sentiment's students of seed 0: before
# training ('random' and 'copy' are untrained students) and after, per strategy.
angles() {  # angles NAME TEACHER STUDENT [angles.py flags...]
    local name=$1 teacher=$2 student=$3
    local out=$results/angles/$name
    shift 3
    # done only if newer than what it measured (results/ may hold another machine's angles)
    local measured=$student/metrics.json
    if [ "$student" = random ] || [ "$student" = copy ]; then measured=$teacher/metrics.json; fi
    [ -f "$measured" ] || return 0
    [ "$out/angles.json" -nt "$measured" ] && return
    printf '%-45s ' "angles $name"
    if ! "$py" angles.py --teacher "$teacher" --student "$student" --out "$out" --max-examples 200 "$@" \
            > "$out.txt" 2>> "$log"; then
        echo "FAILED (see $log)"
        exit 1
    fi
    tail -n 1 "$out.txt" | tee -a "$log"
    rm "$out.txt"
}
if [ "$profile" != paper ]; then
    echo "== angle analysis (results/$profile/angles)"
    mkdir -p "$results/angles"
    teacher=$runs/teachers/synth-sentiment students=$runs/classification/synth-sentiment
    angles before-random "$teacher" random --max-length 64
    angles before-copy "$teacher" copy --max-length 64
    for name in copy-forward copy-reverse copy-none random-forward random-reverse random-none; do
        angles "$name" "$teacher" "$students/$name-seed0" --max-length 64
    done
    angles d2t-copy-forward "$runs/teachers/synth-d2t" "$runs/generation/synth-d2t/copy-forward-seed0" \
        --task synth-d2t --max-length 64
fi
echo "== tables"
"$py" report.py --profile "$profile"

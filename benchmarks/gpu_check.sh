#!/usr/bin/env bash
# The GPU check in one call: the CUDA tests, both throughput benchmarks and the full default
# pipeline on runtime.device: cuda, with every output in one folder. See --help and docs/gpu.md.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Top-level pins of requirements.txt never installed from --wheels: torch (the node's own CUDA
# build), what a CUDA PyTorch node brings (numpy, scipy), and what the check does not need
# (plots, ONNX export, linters, the SLURM plugin); the pipeline then stops before the report.
NEVER_INSTALLED="torch numpy scipy matplotlib seaborn pillow onnx onnxruntime onnxscript ruff snakefmt
  snakemake-executor-plugin-slurm"
# Pure-Python packages that PyPI has only as source: built into wheels by pip wheel.
SOURCE_ONLY="smac ConfigSpace pynisher==1.0.10 connection_pool==0.0.3 medmnist==3.0.2"
PLATFORM_ARGS="--platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --python-version 3.12
  --only-binary=:all:"
MEDMNIST="medmnist==3.0.2"  # installed without its dependencies, as in the README's set-up

usage() {
  cat <<EOF
usage: bash benchmarks/gpu_check.sh [--out DIR] [--wheels DIR] [--data PATH] [--cores N]
                                    [--budget S] [--only STEPS] [--python PY] [--device cuda|cpu]
                                    [--preset configs/NAME.yaml]
       bash benchmarks/gpu_check.sh --prepare-wheels DIR     (on a machine with internet)
       bash benchmarks/gpu_check.sh --print-requirements

On a machine with one CUDA GPU (it fails if none is visible): the cuda tests, both throughput
benchmarks and the full default pipeline, everything to --out; docs/gpu.md ("The GPU check").

  --out DIR             results folder (default: gpu-check-<date> in the current folder)
  --wheels DIR          install what is missing from this folder, offline
                        (pip install --no-index --find-links DIR); torch is never reinstalled
  --data PATH           RetinaMNIST 28 px .npz (default: ../shared/data/retinamnist.npz beside
                        the repository)
  --cores N             Snakemake's --cores for the pipeline (default: all CPUs); the training
                        jobs, one thread each, share the GPU
  --budget S            seconds for the whole check (default 570): the pipeline, last, gets
                        what is left and reports what it finished
  --only STEPS          a comma-separated subset of tests,benchmarks,pipeline (default: all),
                        e.g. --only pipeline to give a second call the whole budget
  --preset FILE         run the pipeline with this preset over config.yaml (e.g. configs/long.yaml,
                        twice BOHB's budget) and compare with its recorded CPU run
                        (benchmarks/results/retinamnist-NAME/); give it with --only pipeline,
                        so that the pipeline gets the whole budget
  --python PY           the interpreter with the node's CUDA torch (default: python3)
  --device cpu          a smoke test of this script on a machine without GPU: the cuda tests
                        are skipped, the benchmarks and the pipeline run on the CPU
  --print-config        print the config the pipeline gives after config.yaml, and stop

--prepare-wheels DIR fills DIR for --wheels (Python 3.12, manylinux x86-64) with pip wheel and
pip download; docs/gpu.md shows the commands it runs.
EOF
}

die() { echo "gpu_check: $*" >&2; exit 1; }

# requirements.txt without the packages of NEVER_INSTALLED (compared case-insensitively).
print_requirements() {
  local line name
  while IFS= read -r line; do
    line=${line%%#*}; line=${line//[[:space:]]/}
    [ -z "$line" ] && continue
    name=$(echo "${line%%[=<>!~;]*}" | tr '[:upper:]_' '[:lower:]-')
    [[ " $(echo $NEVER_INSTALLED | tr '[:upper:]_' '[:lower:]-') " == *" $name "* ]] || echo "$line"
  done < "$REPO/requirements.txt"
}

prepare_wheels() {
  local dir=$1 sources=() package pin
  mkdir -p "$dir"
  for package in $SOURCE_ONLY; do  # its pin in requirements.txt, or the name as given
    pin=$(grep -i -E "^$package==" "$REPO/requirements.txt" | head -1)
    sources+=("${pin:-$package}")
  done
  "$PYTHON" -m pip wheel --no-deps -w "$dir" "${sources[@]}" || die "pip wheel failed"
  # shellcheck disable=SC2086
  "$PYTHON" -m pip download -d "$dir" --find-links "$dir" $PLATFORM_ARGS -r <(print_requirements) || die "pip download failed"
  rm -f "$dir"/numpy-*.whl "$dir"/scipy-*.whl
  echo "prepared $dir: $(ls "$dir" | wc -l) wheels, $(du -sm "$dir" | cut -f1) MB"
}

OUT="" WHEELS="" DATA="$REPO/../shared/data/retinamnist.npz" CORES=$(nproc) BUDGET=570 PYTHON=python3 DEVICE=cuda
PRESET="" PRINT_CONFIG=""
ONLY="tests,benchmarks,pipeline"
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --print-requirements) print_requirements; exit 0 ;;
    --print-config) PRINT_CONFIG=1; shift; continue ;;
  esac
  [ $# -ge 2 ] || { usage >&2; die "$1 needs a value (or is unknown)"; }
  case $1 in
    --prepare-wheels) prepare_wheels "$2"; exit 0 ;;
    --out) OUT=$2 ;;
    --wheels) WHEELS=$2 ;;
    --data) DATA=$2 ;;
    --cores) CORES=$2 ;;
    --budget) BUDGET=$2 ;;
    --only) ONLY=$2 ;;
    --python) PYTHON=$2 ;;
    --device) DEVICE=$2 ;;
    --preset) PRESET=$2 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift 2
done

[[ $DEVICE == cuda || $DEVICE == cpu ]] || die "--device: cuda or cpu, not $DEVICE"
pipeline_config() {  # the config the pipeline step gives after config.yaml (and --preset)
  printf 'runtime:\n  device: %s\ndatasets:\n  - {flag: retinamnist, size: 28, source: %s}\n' "$DEVICE" "$DATA"
}
if [ -n "$PRINT_CONFIG" ]; then pipeline_config; exit 0; fi
for wanted_step in ${ONLY//,/ }; do
  [[ " tests benchmarks pipeline " == *" $wanted_step "* ]] || die "--only: unknown step $wanted_step"
done
OUT=${OUT:-gpu-check-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
[ -f "$DATA" ] || die "--data $DATA: no such file (the RetinaMNIST 28 px .npz)"
DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")
[ -z "$WHEELS" ] || [ -d "$WHEELS" ] || die "--wheels $WHEELS: no such folder"
REFERENCE="$REPO/benchmarks/results/retinamnist-default/summary.csv"
if [ -n "$PRESET" ]; then
  [ -f "$PRESET" ] || die "--preset $PRESET: no such file (e.g. configs/long.yaml)"
  PRESET=$(cd "$(dirname "$PRESET")" && pwd)/$(basename "$PRESET")
  REFERENCE="$REPO/benchmarks/results/retinamnist-$(basename "$PRESET" .yaml)/summary.csv"
fi
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
STARTED=$(date +%s)
printf 'step\texit_code\tseconds\n' > "$OUT/steps.tsv"

step() {  # step NAME COMMAND...: run, time and record it; a failed step does not stop the rest
  local name=$1 started rc
  shift
  echo; echo "=== $name ($(date -u +%H:%M:%S) UTC)"
  started=$(date +%s)
  "$@"; rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - started ))" >> "$OUT/steps.tsv"
  echo "=== $name: exit code $rc, $(( $(date +%s) - started )) s"
  return $rc
}

PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)') || die "--python: cannot run it"
mkdir -p "$OUT/bin"  # the rules call `python`: this one, whatever else is on the PATH
printf '#!/bin/sh\nexec "%s" "$@"\n' "$PYTHON" > "$OUT/bin/python" && chmod +x "$OUT/bin/python"
export PATH="$OUT/bin:$PATH" PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1
export DARTS_BOHB_TEST_DATA="$DATA" DARTS_BOHB_REQUIRE_DATA=1

environment() {
  nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || echo "(no nvidia-smi)" > "$OUT/nvidia-smi.txt"
  "$PYTHON" -m pip list > "$OUT/pip-list-before.txt" 2>&1
  DEVICE=$DEVICE "$PYTHON" - <<'EOF' | tee "$OUT/environment.txt"
import os, platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version()}")
if not torch.cuda.is_available():
    raise SystemExit(0 if os.environ["DEVICE"] == "cpu" else "gpu_check: no CUDA device is visible to torch")
properties = torch.cuda.get_device_properties(0)
print(f"GPU: {properties.name}, compute capability {properties.major}.{properties.minor}, "
      f"{properties.total_memory / 2**30:.0f} GiB; native bf16: {torch.cuda.is_bf16_supported(including_emulation=False)}")
EOF
}

install_from_wheels() {
  local torch_before torch_after
  torch_before=$("$PYTHON" -c 'import torch; print(torch.__version__)')
  # The constraint keeps pip from ever replacing the node's torch, whatever a package asks for.
  "$PYTHON" -m pip install --no-index --find-links "$WHEELS" -c <(echo "torch==$torch_before") \
    -r <(print_requirements) || {
    echo "gpu_check: a package is neither on this node nor in $WHEELS; add its wheel on a machine with"
    echo "  internet: pip download -d $WHEELS --no-deps $(echo $PLATFORM_ARGS) <package>==<version>"
    return 1; }
  "$PYTHON" -m pip install --no-index --find-links "$WHEELS" --no-deps "$MEDMNIST" || return 1
  torch_after=$("$PYTHON" -c 'import torch; print(torch.__version__)')
  [ "$torch_before" = "$torch_after" ] || { echo "gpu_check: torch changed ($torch_before -> $torch_after)"; return 1; }
  "$PYTHON" -m pip list > "$OUT/pip-list-after.txt" 2>&1
}

check_imports() {
  "$PYTHON" - <<'EOF'
import importlib.util
needed = ["snakemake", "smac", "ConfigSpace", "medmnist", "jsonschema", "pandas", "sklearn", "scipy", "yaml",
          "pytest", "darts_bohb"]
missing = [name for name in needed if importlib.util.find_spec(name) is None]
if missing:
    raise SystemExit(f"gpu_check: not importable: {', '.join(missing)}; give --wheels DIR (see --help)")
EOF
}

cuda_tests() {
  (cd "$REPO" && timeout 240 "$PYTHON" -m pytest -m cuda tests/test_cuda.py -v -rs -p no:cacheprovider \
    --junitxml "$OUT/pytest-cuda.xml") 2>&1 | tee "$OUT/pytest-cuda.txt"
  return "${PIPESTATUS[0]}"
}

benchmark() {  # benchmark NAME ARGS...: its printout to $OUT/NAME.txt
  local name=$1
  shift
  (cd "$REPO" && timeout 150 "$PYTHON" "benchmarks/$name.py" "$@") 2>&1 | tee "$OUT/$name.txt"
  return "${PIPESTATUS[0]}"
}

pipeline() {
  local workdir="$OUT/pipeline" targets=() started rc limit name rule
  limit=$(( BUDGET - ($(date +%s) - STARTED) - 15 ))  # 15 s for the summary
  [ $limit -gt 30 ] || { echo "no time left for the pipeline (--budget $BUDGET)"; return 1; }
  rm -rf "$workdir" && mkdir -p "$workdir"  # a fresh run: the timings are of every job
  for name in Snakefile config.yaml workflow scripts profiles envs; do cp -r "$REPO/$name" "$workdir/"; done
  pipeline_config > "$workdir/gpu.yaml"
  [ -z "$PRESET" ] || cp "$PRESET" "$workdir/preset.yaml"
  if "$PYTHON" -c 'import matplotlib, seaborn, onnx, onnxruntime, onnxscript' 2>/dev/null; then
    echo "running every target of the pipeline${PRESET:+ with $PRESET}"
  else
    # --until: the default DAG up to these rules (the training stages), without plots and ONNX.
    for rule in final baseline_final random_final; do
      grep -q -E "^(rule|use rule [a-z_]+ as) $rule\b" "$REPO"/workflow/rules/*.smk && targets+=("$rule")
    done
    echo "matplotlib, seaborn or onnx missing: running the training stages only (--until ${targets[*]})"
    targets=(--until "${targets[@]}")
  fi
  started=$(date +%s)
  echo "time limit: $limit s"
  (cd "$workdir" && timeout --kill-after=20 "$limit" "$PYTHON" -m snakemake --cores "$CORES" \
    --configfile ${PRESET:+preset.yaml} gpu.yaml --scheduler greedy ${targets[@]+"${targets[@]}"}) > "$OUT/pipeline.log" 2>&1
  rc=$?
  tail -n 25 "$OUT/pipeline.log"
  [ $rc -eq 124 ] && echo "pipeline stopped after $limit s: the check's --budget ran out"
  "$PYTHON" "$REPO/benchmarks/gpu_pipeline_summary.py" "$workdir" --wall-clock "$(( $(date +%s) - started ))" \
    --out "$OUT" --reference "$REFERENCE" | tee "$OUT/pipeline_summary.txt"
  return $rc
}

step environment environment || die "stopping: see $OUT/environment.txt"
if [ -n "$WHEELS" ]; then step install install_from_wheels || die "stopping: the installation failed"; fi
step imports check_imports || exit 1
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }
if wanted tests; then step cuda_tests cuda_tests; fi
if wanted benchmarks; then
  step search_throughput benchmark search_throughput --device "$DEVICE" --rounds 10 --cpu-reference
  step train_throughput benchmark train_throughput --device "$DEVICE" --repeats 2
fi
if wanted pipeline; then step pipeline pipeline; fi

echo; echo "=== summary: $(( $(date +%s) - STARTED )) s in all; results in $OUT"
column -t -s $'\t' "$OUT/steps.tsv" 2>/dev/null || cat "$OUT/steps.tsv"
awk -F '\t' 'NR > 1 && $2 != 0 { failed = 1 } END { exit failed }' "$OUT/steps.tsv"

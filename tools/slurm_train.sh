#!/usr/bin/env bash
# Training on a Slurm cluster, one task per GPU; env: GPUS (8), GPUS_PER_NODE (8),
# CPUS_PER_TASK (12), SRUN_ARGS (more srun options, split into words).
# 12 CPUs per task: the ImageNet recipes' 10 loader workers per GPU, the training process
# and its pin-memory thread (96 CPUs per node of 8 GPUs). On smaller nodes lower both:
# CPUS_PER_TASK=N and --cfg-options train_dataloader.num_workers=N-2
# (python tools/analysis/loader_sizing.py CONFIG prints what a config needs).
set -euo pipefail
source "$(dirname "$0")/launch_env.sh"
need_args 4 'PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py arguments...]' "$@"
set -x
# shellcheck disable=SC2086
srun -p "$1" --job-name="$2" --gres=gpu:"${GPUS_PER_NODE:-8}" --ntasks="${GPUS:-8}" \
    --ntasks-per-node="${GPUS_PER_NODE:-8}" --cpus-per-task="${CPUS_PER_TASK:-12}" \
    --kill-on-bad-exit=1 ${SRUN_ARGS:-} \
    "$PYTHON" -u "$ROOT/tools/train.py" "$3" --work-dir="$4" --launcher=slurm "${@:5}"

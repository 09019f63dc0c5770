#!/usr/bin/env bash
# Your own data through the CLI: the randomization tests on a dataset function of yours.
#   bash examples/your_data/run.sh          (EPOCHS, LABELS and LOG_DIR may be set; about a minute on 2 CPU cores)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
for labels in ${LABELS:-true random}; do
  rethinking train --dataset my_data:digits_16x16 --model mlp_1x512 --labels "$labels" --batch-size 32 \
    --learning-rate 0.03 --lr-decay 0.99 --until-fit --epochs "${EPOCHS:-100}" --log-dir "${LOG_DIR:-tensorboard_logs}"
done
rethinking preview --dataset my_data:digits_16x16 --pixels shuffled --out "${LOG_DIR:-tensorboard_logs}/my_data_shuffled.png"

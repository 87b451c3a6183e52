#!/usr/bin/env bash
# Renders charts of the demo report to PNG for the README (docs/img/*.png).
#   docs/render-report-images.sh [REPORT_DIR]
# REPORT_DIR holds a finished `mercato demo` report (default: report/, as `make demo` writes it);
# its charts/*.svg are converted with rsvg-convert (Debian: apt-get install -y librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/.."
report=${1:-report}
command -v rsvg-convert >/dev/null || { echo "rsvg-convert not found: apt-get install -y librsvg2-bin"; exit 1; }
[ -d "$report/charts" ] || { echo "no $report/charts: run \`make demo\` (or mercato demo --report $report) first"; exit 1; }
mkdir -p docs/img
for pair in rmse-on-held-out-ratings:recommenders-rmse ndcg-10:recommenders-ndcg roc-curves:fraud-roc \
            precision-recall-curves:fraud-pr ensemble-score-by-label:fraud-scores \
            confusion-matrix-rows-true-class:vision-confusion cnn-training-loss:vision-loss; do
  src=$(ls "$report"/charts/*-"${pair%%:*}".svg 2>/dev/null | head -1) || true
  if [ -z "$src" ]; then echo "skip ${pair%%:*} (not in this report)"; continue; fi
  rsvg-convert --background-color=white -z 1 "$src" -o "docs/img/${pair##*:}.png"
  echo "docs/img/${pair##*:}.png"
done
du -ch docs/img/*.png | tail -1

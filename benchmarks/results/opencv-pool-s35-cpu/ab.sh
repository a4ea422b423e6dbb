#!/bin/bash
# Interleaved runs of the live loop with OpenCV's pool as it was (its own defaults: workers poll
# 2000 rounds after a job, the caller 10000) and as realtime now sets it (0 and 0).
# usage, from the repository root ([SIZE=WxH, default 1280x720]): benchmarks/results/opencv-pool-s35-cpu/ab.sh ROUNDS FRAMES FILTER...
# e.g. ab.sh 4 200 aged+cartoon cartoon@blur big_eyes+glasses+cartoon aged candy
set -u
DATA=${REALTIME_DATA:-../shared/data}; OUT=${OUT:-/tmp/opencv-pool}; SIZE=${SIZE:-1280x720}; mkdir -p "$OUT"
ROUNDS=$1; FRAMES=$2; shift 2
for i in $(seq 1 "$ROUNDS"); do
  for side in spin quiet; do
    pool=(); [ "$side" = spin ] && pool=(OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER=2000 OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN=10000)
    env "${pool[@]}" python -m benchmarks.fps --filter "$@" --sizes "$SIZE" --variants auto \
      --source "$DATA/videos/liveportrait__d18.mp4" --frames "$FRAMES" --baseline-frames 2 --runs 1 --ssim-frames 0 \
      --look-frames 0 --no-startup --out "$OUT/$side-$i" > "$OUT/$side-$i.log" 2>&1 || echo "run $side-$i failed: $OUT/$side-$i.log"
  done
done
python -m benchmarks.compare_runs --before $(ls -d "$OUT"/spin-[0-9]*/) --after $(ls -d "$OUT"/quiet-[0-9]*/) --out "$OUT/report"

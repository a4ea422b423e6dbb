#!/bin/bash
# usage (from the patched checkout, the base commit checked out at /tmp/base): ab.sh FILTER ROUNDS FRAMES TAG
DATA=${REALTIME_DATA:-/work/shared/data}; mkdir -p /tmp/ab
F=$1; R=$2; N=$3; TAG=$4
for i in $(seq 1 $R); do
  for side in base new; do
    dir=.; [ $side = base ] && dir=/tmp/base
    (cd $dir && timeout 900 python -m benchmarks.fps --filter "$F" --sizes 1280x720 --variants auto --source $DATA/videos/liveportrait__d18.mp4 --frames $N --baseline-frames 2 --runs 1 --ssim-frames 0 --look-frames 0 --no-startup --out /tmp/ab/$TAG-$side-$i > /tmp/ab/$TAG-$side-$i.log 2>&1)
    python3 - /tmp/ab/$TAG-$side-$i/fps.json $side $i <<'PY'
import json,sys
d=json.load(open(sys.argv[1])); r=d['rows'][-1]; e=r['e2e']['stages_ms']; l=r['live']
s=l['stages_ms']
print(sys.argv[2], sys.argv[3], 'e2e process %.2f infer %.2f creases %.2f nonInf %.2f | live kept %.0f%% p95 %.1f process %.2f infer %s creases %s temporal %s nonInf %.2f' % (e['process']['p50'], [v['p50'] for k,v in e.items() if k.startswith('infer')][0], e.get('creases',{}).get('p50',0), e['non_inference']['p50'], 100*l['processed_share'], l['latency_ms']['p95'], s['process'], [round(v,2) for k,v in s.items() if k.startswith('infer')], s.get('creases'), s.get('temporal'), s['non_inference']), flush=True)
PY
  done
done

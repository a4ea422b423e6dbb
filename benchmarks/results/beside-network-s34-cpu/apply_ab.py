import os, time, numpy as np, cv2, av
# needs beside.patch applied: it swaps the face filter's beside() for the same call made in line
from concurrent.futures import Future
import realtime.filters.kinds.face_filter as ff
from realtime.filters.engine import FilterModel
from realtime.filters.kinds.base import Settings
from realtime.analysis.tracking import FaceTracker
from realtime.analysis.analysers import FrameAnalysis
from realtime.compositing.temporal import TemporalMemory
frames=[]
with av.open(os.environ.get('REALTIME_DATA', '/work/shared/data') + '/videos/liveportrait__d18.mp4') as c:
    for i,f in enumerate(c.decode(video=0)):
        frames.append(cv2.resize(f.to_ndarray(format='bgr24'),(1280,720)))
        if i>=120: break
tr = FaceTracker()
faces = [tr.faces(fr, i/30) for i, fr in enumerate(frames)]
real_beside = ff.beside
def sync(fn, *a, **k):
    fut = Future(); fut.set_result(fn(*a, **k)); return fut
model = FilterModel('realtime/bundled/aged.fast.onnx', 'cpu')
filt = ff.FaceFilter(model)
def run(mode):
    ff.beside = real_beside if mode == 'beside' else sync
    s = Settings(temporal=TemporalMemory())
    ts = []
    for fr, fa in zip(frames, faces):
        a = time.perf_counter()
        filt.apply(fr, FrameAnalysis(faces=fa), s)
        ts.append((time.perf_counter() - a) * 1000)
    return np.median(ts[5:])
res = {'sync': [], 'beside': []}
for r in range(10):
    for mode in ('sync', 'beside'):
        res[mode].append(run(mode))
for k, v in res.items(): print(k, np.round(v, 2), 'median', round(float(np.median(v)), 2))

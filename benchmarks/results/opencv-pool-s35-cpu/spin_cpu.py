import os, time, sys
import cv2, numpy as np
frame = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), np.uint8)
def cpu(): t = os.times(); return t.user + t.system
c0, w0 = cpu(), time.perf_counter()
busy = 0.0
for _ in range(300):
    s = time.perf_counter(); cv2.resize(frame, (640, 360), interpolation=cv2.INTER_LINEAR); cv2.GaussianBlur(frame, (5, 5), 0); busy += time.perf_counter() - s
    time.sleep(0.005)
print(f"{sys.argv[1]}: process CPU {1000*(cpu()-c0)/300:.2f} ms a round, calls {1000*busy/300:.2f} ms wall a round")

import sys, time
sys.path.append('/root/.cache/motionlab/bench/judges')
import numpy as np, cv2, torch
torch.set_num_threads(1)
from facenet_pytorch import MTCNN
from motionlab.video import VideoReader
frames = list(VideoReader('/work/shared/data/videos/pedestrians_vtest.avi', stop=800))[::80]
up = float(sys.argv[1])
m = MTCNN(keep_all=True, min_face_size=int(sys.argv[2]), device='cpu')
t=time.time(); tot=0; sizes=[]
for i, f in enumerate(frames):
    g = cv2.resize(f, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
    boxes, probs = m.detect(g)
    if boxes is not None:
        keep = probs > 0.9
        tot += keep.sum(); sizes += [(i, [round(float(x)/up) for x in b]) for b in boxes[keep]]
print('mtcnn', len(frames), tot, sizes, (time.time()-t)/len(frames))

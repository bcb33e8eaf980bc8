#!/usr/bin/env python3
"""Sends a golden case to a running FreqFusion service (OIP v2 REST JSON) and compares every output with the golden
file within |got - want| <= 1e-4 + 1e-4 |want|. The model must serve that golden file (a model folder holding it as
model.safetensors). Usage: serve-golden-check.py URL MODEL GOLDEN.safetensors"""
import json, struct, sys, urllib.request
from array import array

def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        arr = array('f')
        arr.frombytes(data[a:b])
        out[k] = (v['shape'], arr)
    return out

url, model, golden = sys.argv[1], sys.argv[2], sys.argv[3]
t = read_safetensors(golden)
inputs = [{"name": k[6:], "datatype": "FP32", "shape": s, "data": list(a)} for k, (s, a) in t.items() if k.startswith('input.')]
want = {k[7:]: (s, a) for k, (s, a) in t.items() if k.startswith('output.')}
req = json.dumps({"id": "golden", "inputs": inputs}).encode()
r = urllib.request.urlopen(urllib.request.Request(f"{url}/v2/models/{model}/infer", data=req, headers={"Content-Type": "application/json"}), timeout=600)
resp = json.loads(r.read())
got = {o["name"]: (o["shape"], o["data"]) for o in resp["outputs"]}
worst = 0.0
for name, (shape, w) in want.items():
    if name not in got:
        sys.exit(f"FAIL: output {name} missing (got {list(got)})")
    gs, g = got[name]
    if list(gs) != list(shape):
        sys.exit(f"FAIL: {name} shape {gs} != {shape}")
    for i, (x, y) in enumerate(zip(g, w)):
        r_ = abs(x - y) / (1e-4 + 1e-4 * abs(y))
        if not r_ <= 1.0:
            sys.exit(f"FAIL: {name}[{i}] got {x} want {y} ({r_:.2f}x tolerance)")
        worst = max(worst, r_)
print(f"OK: {model} via REST: {len(want)} outputs within tolerance (worst {worst:.3f} of it)")

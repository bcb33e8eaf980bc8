#!/usr/bin/env python3
"""Makes extra conformance cases (other sizes, seeds and option mixes than ../shared/golden) with the spec's NumPy
reference in float64, in the golden files' format. Output: src/test/resources/spec-cases/ (committed; the test
SpecCasesTest checks the CPU backend against them). Usage: tools/make_spec_cases.py [../shared/spec] [OUT_DIR]
"""
import sys, os, json, struct, numpy as np
SPEC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'spec')
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), '..', 'src', 'test', 'resources', 'spec-cases')
sys.path.insert(0, SPEC)
import freqfusion_reference as R

def params_for(o, Ch, Cl, rng):
    kl, kh, ke = o.get('lowpass_kernel',5), o.get('highpass_kernel',3), o.get('encoder_kernel',3)
    Cc = o.get('compressed_channels', 64); ham = o.get('hamming_window', True)
    P = {}
    P['hamming_lowpass'] = np.outer(np.hamming(kl), np.hamming(kl)).astype(np.float32).reshape(1,1,kl,kl) if ham else np.ones(1, np.float32)
    P['hamming_highpass'] = np.outer(np.hamming(kh), np.hamming(kh)).astype(np.float32).reshape(1,1,kh,kh) if ham else np.ones(1, np.float32)
    r = lambda *s: (0.1*rng.standard_normal(s)).astype(np.float32)
    P['hr_channel_compressor.weight'] = r(Cc, Ch, 1, 1); P['hr_channel_compressor.bias'] = r(Cc)
    P['lr_channel_compressor.weight'] = r(Cc, Cl, 1, 1); P['lr_channel_compressor.bias'] = r(Cc)
    P['content_encoder.weight'] = r(kl*kl, Cc, ke, ke); P['content_encoder.bias'] = r(kl*kl)
    if o.get('feature_resample', False):
        G = o.get('feature_resample_group', 4); Cs = Cc + 8
        ip = np.zeros((1, 8*G, 1, 1), np.float32)
        for q in range(8*G):
            a, i, j = q // (4*G), (q % 4)//2, q % 2
            ip[0, q] = -0.25 if (j if a == 0 else i) == 0 else 0.25
        P['dysampler.init_pos'] = ip
        for n, co in [('offset', 8*G), ('direct_scale', 8*G), ('hr_offset', 2*G), ('hr_direct_scale', 2*G)]:
            P[f'dysampler.{n}.weight'] = r(co, Cs, ke, ke); P[f'dysampler.{n}.bias'] = r(co)
        if o.get('feature_resample_norm', True):
            P['dysampler.norm_hr.weight'] = (1 + r(Cc)); P['dysampler.norm_hr.bias'] = r(Cc)
            P['dysampler.norm_lr.weight'] = (1 + r(Cc)); P['dysampler.norm_lr.bias'] = r(Cc)
    if o.get('use_high_pass', True):
        P['content_encoder2.weight'] = r(kh*kh, Cc, ke, ke); P['content_encoder2.bias'] = r(kh*kh)
    return P

def save(path, tensors, meta):
    header = {'__metadata__': meta}; off = 0; blobs = []
    for k, v in tensors.items():
        b = np.ascontiguousarray(v, dtype='<f4').tobytes()
        header[k] = {'dtype': 'F32', 'shape': list(v.shape), 'data_offsets': [off, off+len(b)]}; off += len(b); blobs.append(b)
    h = json.dumps(header).encode(); h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h); [f.write(b) for b in blobs]

cases = [
  ('spec_single_b3_odd', dict(), 3, 12, 12, (10, 18), (5, 9)),
  ('spec_resample_odd_b2', dict(feature_resample=True, feature_resample_group=2, compressed_channels=24), 2, 8, 16, (14, 10), (7, 5)),
  ('spec_bilinear_ac', dict(semi_conv=False, upsample_mode='bilinear', align_corners=True), 1, 8, 8, (13, 11), (7, 5)),
  ('spec_bilinear_ac_resample', dict(semi_conv=False, upsample_mode='bilinear', align_corners=True, feature_resample=True, feature_resample_norm=False), 1, 8, 8, (12, 16), (6, 8)),
  ('spec_k7_d3', dict(lowpass_kernel=7, highpass_kernel=1, encoder_dilation=3, encoder_kernel=5, compressed_channels=12), 1, 6, 10, (10, 12), (5, 6)),
  ('spec_cfu_off_resample', dict(comp_feat_upsample=False, use_high_pass=False, feature_resample=True, hamming_window=False, compressed_channels=16), 2, 4, 8, (8, 8), (4, 4)),
  ('spec_semi_off_nearest_odd', dict(semi_conv=False, hr_residual=False), 1, 5, 7, (9, 17), (4, 5)),
  ('spec_tiny', dict(compressed_channels=8, feature_resample=True, feature_resample_group=1), 1, 1, 1, (2, 2), (1, 1)),
  # widths of whole 32-column chunks at both resolutions: the encoders' padded copies written by their producers
  ('spec_producer_pads_b2', dict(compressed_channels=16), 2, 8, 8, (10, 64), (5, 32)),
]
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(1234)
for name, o, B, Ch, Cl, hw, lw in cases:
    o = dict(o); P = params_for(o, Ch, Cl, rng)
    Xh = rng.standard_normal((B, Ch) + hw).astype(np.float32); Xl = rng.standard_normal((B, Cl) + lw).astype(np.float32)
    K, Oh, Ol = R.freqfusion({k: v for k, v in P.items()}, Xh.astype(np.float64), Xl.astype(np.float64), o)
    T = {'input.hr_feat': Xh, 'input.lr_feat': Xl}
    T.update({'param.' + k: v for k, v in P.items()})
    T.update({'output.hr_feat': Oh, 'output.lr_feat': Ol, 'output.mask': K})
    save(os.path.join(OUT, f'{name}.safetensors'), T, {'kind': 'single', 'module_kwargs': json.dumps(o)})
    print('wrote', name)

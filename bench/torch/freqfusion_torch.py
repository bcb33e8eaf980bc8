#!/usr/bin/python3
"""The project's own PyTorch implementation of FreqFusion, for benchmarking only (issue 5).

Written from shared/spec/FREQFUSION.md (section numbers below refer to it), not copied from the authors'
repository. Idiomatic, fast torch on the CPU: F.conv2d (oneDNN) for every convolution, softmax for the
kernel normaliser, CARAFE with mmcv semantics (zero padding = dropped out-of-image taps), the offset-guided
resampler with GroupNorm / cosine similarity / pixel_unshuffle / grid_sample(border), and the FPN add chain.

    /usr/bin/python3 freqfusion_torch.py --check [GOLDEN_DIR]     # all golden files, max error vs 1e-4 + 1e-4*|want|
    /usr/bin/python3 freqfusion_torch.py --bench --threads 2 --workloads W1,W2,W3,FPN4 --configs default,paper
    /usr/bin/python3 freqfusion_torch.py --carafe-impls             # time the CARAFE variants at W2 shapes

--bench prints per-case lines and, per (workload, config), one JSON line
{"impl":"torch","workload","config","threads","median_ms","min_ms","carafe","torch"}.
Needs Debian's python3-torch (PyTorch 1.13) and python3-numpy; use /usr/bin/python3.
"""
import argparse
import glob
import json
import math
import os
import struct
import sys
import time


def _early_threads():
    """Thread counts must be fixed before torch (and OpenBLAS/OpenMP) start their pools."""
    n = None
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            n = sys.argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    if n is None and "--check" not in sys.argv:
        n = "2"
    if n is not None:
        for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(v, n)


_early_threads()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# --------------------------------------------------------------------------- building blocks (spec 2)

def hamming2d(k, dtype=torch.float32):
    """Spec 2.2: outer product of numpy.hamming(k)."""
    a = torch.from_numpy(np.hamming(k)).to(dtype)
    return torch.outer(a, a)


def normalise(z, log_window):
    """Spec 2.1: q = softmax(Z + log hw) over the k^2 taps (dim 1); log_window is (k^2,1,1) or None."""
    if log_window is not None:
        z = z + log_window
    return torch.softmax(z, dim=1)


def carafe_unfold(x, K, k, s):
    """CARAFE (spec 2.3, mmcv semantics) as one batched matmul per image: zero-padded unfold of the input at its
    own resolution (taps off the image read 0, i.e. they are dropped), then for every source pixel the
    (C x k^2) patch matrix times the (k^2 x s^2) kernels of the s x s output pixels that read it."""
    B, C, h, w = x.shape
    T, L = k * k, h * w
    U = F.unfold(x, k, padding=(k - 1) // 2)                         # (B, C*T, L)
    U = U.view(B, C, T, L).permute(0, 3, 1, 2)                        # (B, L, C, T)
    Kv = K.view(B, T, h, s, w, s).permute(0, 2, 4, 1, 3, 5).reshape(B, L, T, s * s)
    out = torch.matmul(U, Kv)                                         # (B, L, C, s*s)
    return out.view(B, h, w, C, s, s).permute(0, 3, 1, 4, 2, 5).reshape(B, C, h * s, w * s)


def carafe_taps(x, K, k, s, base=None, base_scale=1.0, scale=1.0):
    """base_scale * base + scale * CARAFE(x, K, k, s), accumulating the k^2 taps over the whole tensor:
    out += scale * K_t * shift_t(X_up), with X_up the zero-padded nearest s-times upsampling of x
    (X_up[Y + s (ky - r)] = x[Y//s + ky - r], so taps off the image read 0, i.e. are dropped as in mmcv).
    Elementwise and memory-bound, but with no k^2-times intermediate. (Blocking over channels to stay in L2
    measured slower here: per-op overhead, and the 32 MiB L3 holds a whole W2/W3 tensor.)"""
    B, C, h, w = x.shape
    r = (k - 1) // 2
    H, W = h * s, w * s
    xp = F.pad(x, (r, r, r, r))
    if s > 1:
        hp, wp = h + 2 * r, w + 2 * r
        xp = xp.view(B, C, hp, 1, wp, 1).expand(B, C, hp, s, wp, s).reshape(B, C, hp * s, wp * s)
    if base is None:
        out = torch.mul(xp[:, :, 0:H, 0:W], K[:, 0:1])
        if scale != 1.0:
            out.mul_(scale)
        t0 = 1
    else:
        out = torch.mul(base, base_scale)
        t0 = 0
    for t in range(t0, k * k):
        ky, kx = divmod(t, k)
        out.addcmul_(xp[:, :, s * ky:s * ky + H, s * kx:s * kx + W], K[:, t:t + 1], value=scale)
    return out


def carafe_einsum(x, K, k, s):
    """CARAFE as the authors' fallback shape of computation but with mmcv's zero padding: unfold, nearest-upsample
    the unfolded patches to the output size, multiply by the kernels and sum over the taps (einsum)."""
    B, C, h, w = x.shape
    T = k * k
    U = F.unfold(x, k, padding=(k - 1) // 2).view(B, C * T, h, w)
    if s > 1:
        U = F.interpolate(U, scale_factor=s, mode="nearest")
    U = U.view(B, C, T, h * s, w * s)
    return torch.einsum("bcthw,bthw->bchw", U, K)


CARAFE_IMPLS = {"unfold": carafe_unfold, "taps": carafe_taps, "einsum": carafe_einsum}
CARAFE = [carafe_taps]


def carafe(x, K, k, s, base=None, base_scale=1.0, scale=1.0):
    """base_scale * base + scale * CARAFE(x, K, k, s) (spec 2.3); the taps variant fuses the combination."""
    if CARAFE[0] is carafe_taps:
        return carafe_taps(x, K, k, s, base, base_scale, scale)
    out = CARAFE[0](x, K, k, s)
    if scale != 1.0:
        out = out * scale
    return out if base is None else out + base_scale * base


def local_cosine_similarity(a):
    """Spec 2.6: cosine similarity with the 8 dilation-2 neighbours (zero outside), each norm clamped to 1e-8."""
    B, C, H, W = a.shape
    an = a / a.norm(dim=1, keepdim=True).clamp_min(1e-8)
    ap = F.pad(an, (2, 2, 2, 2))
    outs = []
    for dy in (-2, 0, 2):
        for dx in (-2, 0, 2):
            if dy == 0 and dx == 0:
                continue
            outs.append((an * ap[:, :, 2 + dy:2 + dy + H, 2 + dx:2 + dx + W]).sum(1))
    return torch.stack(outs, 1)


def resample(P, qh, ql, f, groups, norm, ek):
    """Spec 6: offset generator + border grid-sampling of f (B, C_l, H, W), H = 2h."""
    if norm:
        cc = qh.shape[1]
        qh = F.group_norm(qh, cc // 8, P["dysampler.norm_hr.weight"], P["dysampler.norm_hr.bias"], 1e-5)
        ql = F.group_norm(ql, cc // 8, P["dysampler.norm_lr.weight"], P["dysampler.norm_lr.bias"], 1e-5)
    sh = torch.cat([qh, local_cosine_similarity(qh)], 1)
    sl = torch.cat([ql, local_cosine_similarity(ql)], 1)
    pad = ek // 2

    def conv(name, x):
        return F.conv2d(x, P[f"dysampler.{name}.weight"], P[f"dysampler.{name}.bias"], padding=pad)

    off = conv("offset", sl) + F.pixel_unshuffle(conv("hr_offset", sh), 2)
    scale = conv("direct_scale", sl) + F.pixel_unshuffle(conv("hr_direct_scale", sh), 2)
    delta = off * torch.sigmoid(scale) + P["dysampler.init_pos"]          # (B, 8G, h, w)
    B, _, h, w = delta.shape
    Cl, H, W = f.shape[1], f.shape[2], f.shape[3]
    G = groups
    d = delta.view(B, 2, G, 2, 2, h, w)                                  # (a, g, i, j)
    px = d[:, 0] + (torch.arange(w, dtype=f.dtype) + 0.5)               # (B, G, i, j, h, w)
    py = d[:, 1] + (torch.arange(h, dtype=f.dtype) + 0.5).view(h, 1)
    gx = (px * (2.0 / w) - 1).permute(0, 1, 4, 2, 5, 3).reshape(B * G, H, W)
    gy = (py * (2.0 / h) - 1).permute(0, 1, 4, 2, 5, 3).reshape(B * G, H, W)
    grid = torch.stack([gx, gy], -1)
    out = F.grid_sample(f.reshape(B * G, Cl // G, H, W), grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    return out.view(B, Cl, H, W)


def nearest(x, H, W):
    """Spec 2.4 (PyTorch legacy nearest)."""
    return F.interpolate(x, size=(H, W), mode="nearest")


# --------------------------------------------------------------------------- the module (spec 4, 5)

class FreqFusion:
    """One FreqFusion module from its state_dict tensors P (names as in spec 7) and constructor options."""

    def __init__(self, P, opts):
        self.P = P
        o = opts
        self.kl = o.get("lowpass_kernel", 5)
        self.kh = o.get("highpass_kernel", 3)
        self.ek = o.get("encoder_kernel", 3)
        self.ed = o.get("encoder_dilation", 1)
        self.hp = o.get("use_high_pass", True)
        self.semi = o.get("semi_conv", True)
        self.cfu = o.get("comp_feat_upsample", True)
        self.fr = o.get("feature_resample", False)
        self.frg = o.get("feature_resample_group", 4)
        self.frn = o.get("feature_resample_norm", True)
        self.hr_residual = o.get("hr_residual", True)
        self.mode = o.get("upsample_mode", "nearest")
        self.align = o.get("align_corners", False)
        self.pad = (self.ek - 1) * self.ed // 2
        ham = o.get("hamming_window", True)
        dt = P["hr_channel_compressor.weight"].dtype
        self.logl = hamming2d(self.kl, dt).log().view(-1, 1, 1) if ham else None
        self.logh = hamming2d(self.kh, dt).log().view(-1, 1, 1) if ham else None

    def enc_l(self, x):
        return F.conv2d(x, self.P["content_encoder.weight"], self.P["content_encoder.bias"], padding=self.pad,
                        dilation=self.ed)

    def enc_h(self, x):
        return F.conv2d(x, self.P["content_encoder2.weight"], self.P["content_encoder2.bias"], padding=self.pad,
                        dilation=self.ed)

    def __call__(self, xh, xl):
        P, kl, kh = self.P, self.kl, self.kh
        H, W = xh.shape[2], xh.shape[3]
        ph = F.conv2d(xh, P["hr_channel_compressor.weight"], P["hr_channel_compressor.bias"])
        pl = F.conv2d(xl, P["lr_channel_compressor.weight"], P["lr_channel_compressor.bias"])
        zh = None
        if self.semi:
            if self.cfu:
                zhh = self.enc_h(ph)
                ph = carafe(ph, normalise(zhh, self.logh), kh, 1, ph, 2.0, -1.0)            # P_h' = 2 P_h - CARAFE
                zlh = self.enc_l(ph)
                zl = carafe(self.enc_l(pl), normalise(zlh, self.logl), kl, 2, zlh)
                mask = normalise(zl, self.logl)
                zh = carafe(self.enc_h(pl), mask, kl, 2, zhh)
            else:
                zl = self.enc_l(ph) + nearest(self.enc_l(pl), H, W)
                if self.hp:
                    zh = self.enc_h(ph) + nearest(self.enc_h(pl), H, W)
                mask = normalise(zl, self.logl)
            lr_out = carafe(xl, mask, kl, 2)
        else:
            px = nearest(pl, H, W) + ph
            mask = normalise(self.enc_l(px), self.logl)
            if self.hp:
                zh = self.enc_h(px)
            if self.mode == "nearest":
                up = nearest(xl, H, W)
            else:
                up = F.interpolate(xl, size=(H, W), mode="bilinear", align_corners=self.align)
            lr_out = carafe(up, mask, kl, 1)
        if self.hp:
            hr_out = carafe(xh, normalise(zh, self.logh), kh, 1, xh, 2.0 if self.hr_residual else 1.0, -1.0)
        else:
            hr_out = xh
        if self.fr:
            lr_out = resample(P, ph, pl, lr_out, self.frg, self.frn, self.ek)
        return mask, hr_out, lr_out


def concat_channels(a, b, groups):
    """Spec 8(b): [a, b], group-interleaved with groups > 0."""
    if not groups:
        return torch.cat([a, b], 1)
    B, Ca, H, W = a.shape
    Cb = b.shape[1]
    return torch.cat([a.reshape(B, groups, Ca // groups, H, W), b.reshape(B, groups, Cb // groups, H, W)],
                     2).reshape(B, Ca + Cb, H, W)


def pyramid(modules, xs, kind, groups=0):
    """Spec 8(a)/(b): y4 = x4; ff1 fuses x3 with y4, ff2 x2 with y3, ff3 x1 with y2. Returns {name: tensor}."""
    y, got = xs[3], {}
    for stage, level in zip((1, 2, 3), (3, 2, 1)):
        m, hr, up = modules[stage - 1](xs[level - 1], y)
        y = hr + up if kind == "fpn_add" else concat_channels(hr, up, groups)
        got.update({f"output.ff{stage}.mask": m, f"output.ff{stage}.hr_feat": hr,
                    f"output.ff{stage}.lr_feat": up, f"output.y{level}": y})
    return got


# --------------------------------------------------------------------------- golden check

def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        assert t["dtype"] == "F32", t["dtype"]
        a, b = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(t["shape"]).copy())
    return out, meta


def run_case(T, meta):
    o = json.loads(meta.get("module_kwargs", "{}"))
    kind = meta.get("kind", "single")
    if kind == "single":
        P = {k[6:]: v for k, v in T.items() if k.startswith("param.")}
        m, hr, lr = FreqFusion(P, o)(T["input.hr_feat"], T["input.lr_feat"])
        return {"output.mask": m, "output.hr_feat": hr, "output.lr_feat": lr}
    stage_kw = json.loads(meta.get("stage_kwargs", "{}"))
    concat = meta.get("concat", "channel")
    groups = int(concat.split(":")[1]) if concat.startswith("group_interleaved") else 0
    mods = []
    for s in (1, 2, 3):
        pre = f"param.ff{s}."
        P = {k[len(pre):]: v for k, v in T.items() if k.startswith(pre)}
        mods.append(FreqFusion(P, dict(o, **stage_kw.get(f"ff{s}", {}))))
    return pyramid(mods, [T[f"input.x{i}"] for i in (1, 2, 3, 4)], kind, groups)


def check(golden_dir):
    paths = sorted(glob.glob(os.path.join(golden_dir, "*.safetensors")))
    if not paths:
        print(f"no golden files in {golden_dir}", file=sys.stderr)
        return 2
    failed = 0
    print(f"torch {torch.__version__}, CARAFE '{CARAFE[0].__name__}', tolerance |d| <= 1e-4 + 1e-4*|want|")
    for p in paths:
        T, meta = load_safetensors(p)
        with torch.inference_mode():
            got = run_case(T, meta)
        worst, ratio, n = 0.0, 0.0, 0
        for k, v in got.items():
            if k not in T:
                continue
            want = T[k].double()
            if tuple(v.shape) != tuple(want.shape):
                ratio = math.inf
                continue
            d = (v.double() - want).abs()
            worst = max(worst, d.max().item())
            ratio = max(ratio, (d / (1e-4 + 1e-4 * want.abs())).max().item())
            n += 1
        ok = ratio <= 1.0 and n > 0
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {os.path.basename(p):40s} outputs={n:2d} max|d|={worst:.2e} "
              f"({ratio:.3f} of tol)")
    print(f"{len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


# --------------------------------------------------------------------------- benchmark (spec 9)

WORKLOADS = {  # name: (kind, C, hr size of the (finest) module)
    "W1": ("single", 64, 32),
    "W2": ("single", 256, 64),
    "W3": ("single", 256, 128),
    "FPN4": ("fpn_add", 256, 128),
}


def config_options(name, C):
    if name == "default":
        return {}
    if name == "paper":
        return {"compressed_channels": (C + C) // 8, "feature_resample": True, "feature_resample_group": 4,
                "hamming_window": False}
    raise ValueError(f"unknown config {name!r} (default, paper)")


def xavier(gen, co, ci, k):
    b = math.sqrt(6.0 / ((ci + co) * k * k))
    return (torch.rand((co, ci, k, k), generator=gen) * 2 - 1) * b


def random_module_params(C_h, C_l, opts, gen):
    """Spec 7 reference initialisation (xavier-uniform convs, N(0, 0.001) encoders, zero biases)."""
    cc = opts.get("compressed_channels", 64)
    kl, kh, ek = opts.get("lowpass_kernel", 5), opts.get("highpass_kernel", 3), opts.get("encoder_kernel", 3)
    P = {
        "hr_channel_compressor.weight": xavier(gen, cc, C_h, 1), "hr_channel_compressor.bias": torch.zeros(cc),
        "lr_channel_compressor.weight": xavier(gen, cc, C_l, 1), "lr_channel_compressor.bias": torch.zeros(cc),
        "content_encoder.weight": torch.randn((kl * kl, cc, ek, ek), generator=gen) * 1e-3,
        "content_encoder.bias": torch.zeros(kl * kl),
        "content_encoder2.weight": torch.randn((kh * kh, cc, ek, ek), generator=gen) * 1e-3,
        "content_encoder2.bias": torch.zeros(kh * kh),
    }
    if opts.get("feature_resample", False):
        G, cs = opts.get("feature_resample_group", 4), cc + 8
        for name, co in (("offset", 8 * G), ("direct_scale", 8 * G), ("hr_offset", 2 * G), ("hr_direct_scale", 2 * G)):
            P[f"dysampler.{name}.weight"] = xavier(gen, co, cs, ek)
            P[f"dysampler.{name}.bias"] = torch.zeros(co)
        for n in ("norm_hr", "norm_lr"):
            P[f"dysampler.{n}.weight"] = torch.ones(cc)
            P[f"dysampler.{n}.bias"] = torch.zeros(cc)
        pos = torch.empty(8 * G)
        for q in range(8 * G):
            a, i, j = q // (4 * G), (q // 2) % 2, q % 2
            pos[q] = -0.25 if (j if a == 0 else i) == 0 else 0.25
        P["dysampler.init_pos"] = pos.view(1, 8 * G, 1, 1)
    return P


def make_workload(name, config, seed=42):
    kind, C, size = WORKLOADS[name]
    gen = torch.Generator().manual_seed(seed)
    opts = config_options(config, C)

    def randn(*shape):
        return torch.randn(shape, generator=gen)

    if kind == "single":
        mod = FreqFusion(random_module_params(C, C, opts, gen), opts)
        xh, xl = randn(1, C, size, size), randn(1, C, size // 2, size // 2)
        return lambda: mod(xh, xl)
    mods = [FreqFusion(random_module_params(C, C, opts, gen), opts) for _ in range(3)]
    xs = [randn(1, C, size >> i, size >> i) for i in range(4)]
    return lambda: pyramid(mods, xs, kind)


def median(a):
    s = sorted(a)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def time_fn(fn, warmup, runs):
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        ms = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t0) * 1e3)
    return ms


def allocator_description():
    pre = os.environ.get("LD_PRELOAD", "")
    env = [f"{k}={os.environ[k]}" for k in ("MALLOC_CONF", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
                                            "MALLOC_TOP_PAD_") if k in os.environ]
    return " ".join(([os.path.basename(pre)] if pre else ["glibc"]) + env)


def bench(workloads, configs, threads, warmup, runs, quiet):
    torch.set_num_threads(threads)
    for wl in workloads:
        for cfg in configs:
            fn = make_workload(wl, cfg)
            ms = time_fn(fn, warmup, runs)
            if not quiet:
                print(f"{wl} {cfg}: runs " + " ".join(f"{t:.2f}" for t in ms), file=sys.stderr)
            print(json.dumps({"impl": "torch", "workload": wl, "config": cfg, "threads": threads,
                              "median_ms": round(median(ms), 4), "min_ms": round(min(ms), 4),
                              "carafe": CARAFE[0].__name__.replace("carafe_", ""), "torch": torch.__version__,
                              "allocator": allocator_description()}), flush=True)


def bench_carafe_impls(threads, warmup, runs):
    """Times each CARAFE variant on the W2 reassemblies (C=256: lr 32x32 k5 s2, hr 64x64 k3 s1) and checks they agree."""
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(1)
    xl, xh = torch.randn((1, 256, 32, 32), generator=g), torch.randn((1, 256, 64, 64), generator=g)
    kl = torch.softmax(torch.randn((1, 25, 64, 64), generator=g), 1)
    kh = torch.softmax(torch.randn((1, 9, 64, 64), generator=g), 1)
    ref = None
    for name, fn in CARAFE_IMPLS.items():
        with torch.inference_mode():
            o = (fn(xl, kl, 5, 2), fn(xh, kh, 3, 1))
        if ref is None:
            ref = o
        err = max((o[0] - ref[0]).abs().max().item(), (o[1] - ref[1]).abs().max().item())
        t2 = median(time_fn(lambda: fn(xl, kl, 5, 2), warmup, runs))
        t1 = median(time_fn(lambda: fn(xh, kh, 3, 1), warmup, runs))
        print(f"carafe {name:7s} s2 k5 lr32->64: {t2:7.2f} ms   s1 k3 64: {t1:7.2f} ms   max|d| vs first {err:.1e}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", nargs="?", const=os.path.join(here, "..", "..", "..", "shared", "golden"),
                    metavar="GOLDEN_DIR", help="check against the golden files (default ../shared/golden)")
    ap.add_argument("--bench", action="store_true", help="time the workloads")
    ap.add_argument("--carafe-impls", action="store_true", help="time the CARAFE variants at W2 shapes")
    ap.add_argument("--carafe", choices=sorted(CARAFE_IMPLS), default=os.environ.get("FF_TORCH_CARAFE", "taps"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workloads", default="W1,W2,W3,FPN4")
    ap.add_argument("--configs", default="default,paper")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    CARAFE[0] = CARAFE_IMPLS[a.carafe]
    rc = 0
    if a.check:
        rc = check(os.path.normpath(a.check))
    if a.carafe_impls:
        bench_carafe_impls(a.threads, a.warmup, a.runs)
    if a.bench:
        if rc:
            print("golden check failed: timings do not count", file=sys.stderr)
            return rc
        bench([w.strip().upper() for w in a.workloads.split(",") if w.strip()],
              [c.strip() for c in a.configs.split(",") if c.strip()], a.threads, a.warmup, a.runs, a.quiet)
    if not (a.check or a.bench or a.carafe_impls):
        ap.print_help()
    return rc


if __name__ == "__main__":
    sys.exit(main())

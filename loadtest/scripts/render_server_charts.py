#!/usr/bin/env python3
"""Server-side charts of a load-test run from the CSV written by scrape_metrics.py.

    render_server_charts.py --csv results/run/metrics.csv --out results/run/server [--title "..."]

Writes PNGs (throughput by outcome, queue depth, batch size, per-stage compute time, latency histogram and
percentiles over time, CPU), summary.json and index.html. Needs numpy and matplotlib (Debian:
apt-get install python3-matplotlib).
"""
import argparse, collections, csv, html, json, math, os, re
import numpy as np
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt

def labels_of(s):
    return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', s))

def load(path):
    series = collections.defaultdict(list)  # (name, labels) -> [(t, v)]
    for row in csv.DictReader(open(path)):
        series[(row['name'], row['labels'])].append((float(row['t']), float(row['value'])))
    return series

def times(series):
    return sorted({t for pts in series.values() for t, _ in pts})

def grouped(series, name, key, where=None):
    """Sum of the series of `name` grouped by label `key` -> {group: (t[], v[])} on the common time grid."""
    grid = times(series)
    idx = {t: i for i, t in enumerate(grid)}
    out = {}
    for (n, ls), pts in series.items():
        if n != name:
            continue
        lab = labels_of(ls)
        if where and any(lab.get(k) != v for k, v in where.items()):
            continue
        g = lab.get(key, '') if key else ''
        arr = out.setdefault(g, np.full(len(grid), np.nan))
        for t, v in pts:
            i = idx[t]
            arr[i] = v if math.isnan(arr[i]) else arr[i] + v
    return np.array(grid), out

def rate(t, v):
    dv = np.diff(v); dt = np.diff(t)
    dv = np.where(dv < 0, np.nan, dv)  # counter reset
    return t[1:], dv / np.where(dt > 0, dt, np.nan)

def fill(v):
    v = v.copy(); last = 0.0
    for i in range(len(v)):
        if math.isnan(v[i]): v[i] = last
        else: last = v[i]
    return v

def buckets(series, name, where=None, at=None):
    """Cumulative histogram buckets {le: value} at the last scrape (or at index `at`) summed over series."""
    grid = times(series)
    res = collections.defaultdict(float)
    for (n, ls), pts in series.items():
        if n != name: continue
        lab = labels_of(ls)
        if where and any(lab.get(k) != v for k, v in where.items()): continue
        d = dict(pts)
        tt = grid[at] if at is not None else grid[-1]
        # last value at or before tt
        vals = [v for t, v in pts if t <= tt]
        if vals: res[float('inf') if lab['le'] == '+Inf' else float(lab['le'])] += vals[-1]
    return dict(sorted(res.items()))

def quantile(q, cum):
    """Prometheus-style histogram_quantile over cumulative buckets {le: count}."""
    les = list(cum.keys()); cs = list(cum.values())
    if not cs or cs[-1] <= 0: return float('nan')
    rank = q * cs[-1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(les, cs):
        if c >= rank:
            if math.isinf(le): return prev_le
            return prev_le + (le - prev_le) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 0)
        prev_le, prev_c = le, c
    return les[-2] if len(les) > 1 else float('nan')

def diff_buckets(a, b):
    return {le: b.get(le, 0) - a.get(le, 0) for le in b}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--csv', required=True); ap.add_argument('--out', required=True); ap.add_argument('--title', default='FreqFusion Serve')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    s = load(a.csv)
    grid = times(s)
    if len(grid) < 3:
        raise SystemExit('render_server_charts: fewer than 3 scrapes in ' + a.csv)
    t0 = grid[0]
    charts = []; summary = {'scrapes': len(grid), 'seconds': grid[-1] - grid[0]}

    def save(fig, name, caption):
        fig.tight_layout(); fig.savefig(os.path.join(a.out, name), dpi=80); plt.close(fig); charts.append((name, caption))

    # 1. throughput by outcome
    t, g = grouped(s, 'freqfusion_requests_total', 'outcome')
    fig, ax = plt.subplots(figsize=(8, 3.2))
    totals = {}
    for k, v in sorted(g.items()):
        v = fill(v); tr, r = rate(t, v); ax.plot(tr - t0, r, label=k); totals[k] = v[-1] - v[0]
    ax.set_xlabel('s'); ax.set_ylabel('requests/s'); ax.set_title('Throughput by outcome (server)'); ax.legend(); ax.grid(alpha=.3)
    save(fig, 'throughput.png', 'freqfusion_requests_total: rate by outcome')
    summary['requests_by_outcome'] = {k: int(round(v)) for k, v in totals.items()}

    # 2. queue depth, capacity, in flight (models that saw traffic)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    _, infl = grouped(s, 'freqfusion_inflight_requests', 'model'); _, dep = grouped(s, 'freqfusion_queue_depth', 'model')
    active = sorted(k for k in set(infl) | set(dep) if np.nanmax(infl.get(k, np.zeros(1))) > 0 or np.nanmax(dep.get(k, np.zeros(1))) > 0)
    for name, lab, style in (('freqfusion_queue_depth', 'queue depth', '-'), ('freqfusion_inflight_requests', 'in flight', ':'), ('freqfusion_queue_capacity', 'capacity', '--')):
        t, g = grouped(s, name, 'model')
        for k in active:
            if k in g: ax.plot(t - t0, g[k], style, label=f'{lab} {k}')
    ax.set_xlabel('s'); ax.set_ylabel('requests'); ax.set_title('Queue depth vs capacity, in-flight (server)'); ax.legend(fontsize=7); ax.grid(alpha=.3)
    save(fig, 'queue.png', 'freqfusion_queue_depth, freqfusion_queue_capacity, freqfusion_inflight_requests')
    t, g = grouped(s, 'freqfusion_queue_depth', 'model')
    summary['queue_depth_max'] = {k: float(np.nanmax(v)) for k, v in g.items() if np.nanmax(v) > 0}

    # 3. batch size: mean per interval and distribution over the run
    t, gs = grouped(s, 'freqfusion_batch_size_sum', 'model'); _, gc = grouped(s, 'freqfusion_batch_size_count', 'model')
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    for k in sorted(gs):
        vs, vc = fill(gs[k]), fill(gc[k])
        if vc[-1] - vc[0] <= 0: continue
        tr, rs = rate(t, vs); _, rc = rate(t, vc)
        with np.errstate(invalid='ignore', divide='ignore'): ax1.plot(tr - t0, rs / rc, label=k)
        summary.setdefault('batch_size_mean', {})[k] = float((vs[-1] - vs[0]) / (vc[-1] - vc[0]))
        summary.setdefault('batches', {})[k] = int(vc[-1] - vc[0])
        hb = diff_buckets(buckets(s, 'freqfusion_batch_size_bucket', {'model': k}, at=0), buckets(s, 'freqfusion_batch_size_bucket', {'model': k}))
        les = [le for le in hb if not math.isinf(le)]; cum = [hb[le] for le in les]
        counts = np.diff([0] + cum)
        ax2.bar([f'{le:g}' for le in les], counts, label=k, alpha=.7)
    ax1.set_title('Mean batch size per second'); ax1.set_xlabel('s'); ax1.grid(alpha=.3); ax1.legend(fontsize=7)
    ax2.set_title('Batch size distribution (run)'); ax2.set_xlabel('batch size <= le'); ax2.set_ylabel('batches'); ax2.legend(fontsize=7)
    save(fig, 'batch_size.png', 'freqfusion_batch_size: mean over time and distribution')

    # 4. per-stage compute time
    t, gs = grouped(s, 'freqfusion_stage_duration_seconds_sum', 'stage'); _, gc = grouped(s, 'freqfusion_stage_duration_seconds_count', 'stage')
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    means = {}
    for k in sorted(gs):
        vs, vc = fill(gs[k]), fill(gc[k])
        if vc[-1] - vc[0] <= 0: continue
        tr, rs = rate(t, vs); _, rc = rate(t, vc)
        with np.errstate(invalid='ignore', divide='ignore'): ax1.plot(tr - t0, 1e3 * rs / rc, label=k)
        means[k] = 1e3 * (vs[-1] - vs[0]) / (vc[-1] - vc[0])
    ax1.set_title('Per-stage time per batch (ms)'); ax1.set_xlabel('s'); ax1.grid(alpha=.3); ax1.legend(fontsize=7)
    if means:
        ax2.barh(list(means), list(means.values())); ax2.set_xlabel('ms per batched forward (run mean)'); ax2.set_title('Per-stage compute time')
    save(fig, 'stages.png', 'freqfusion_stage_duration_seconds: mean per batched forward by stage')
    summary['stage_ms_mean'] = {k: round(v, 3) for k, v in means.items()}

    # 5. latency histogram over the run (ok) + percentiles over time
    for outcome in ('ok', 'rejected'):
        hb = diff_buckets(buckets(s, 'freqfusion_request_duration_seconds_bucket', {'outcome': outcome}, at=0),
                          buckets(s, 'freqfusion_request_duration_seconds_bucket', {'outcome': outcome}))
        if hb and list(hb.values())[-1] > 0:
            summary[f'latency_ms_{outcome}'] = {f'p{int(q*100)}': round(1e3 * quantile(q, hb), 2) for q in (0.5, 0.9, 0.99)}
    hb = diff_buckets(buckets(s, 'freqfusion_request_duration_seconds_bucket', {'outcome': 'ok'}, at=0),
                      buckets(s, 'freqfusion_request_duration_seconds_bucket', {'outcome': 'ok'}))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    if hb:
        les = [le for le in hb if not math.isinf(le)]; cum = [hb[le] for le in les]; counts = np.diff([0] + cum)
        keep = [i for i in range(len(les)) if counts[i] > 0 or (i > 0 and counts[i-1] > 0)]
        if keep:
            lo, hi = keep[0], keep[-1] + 1
            ax1.bar(range(hi - lo), counts[lo:hi]); ax1.set_xticks(range(hi - lo)); ax1.set_xticklabels([f'{1e3*le:.3g}' for le in les[lo:hi]], rotation=60, fontsize=6)
        ax1.set_title('Request latency histogram, ok (run)'); ax1.set_xlabel('latency <= le (ms)'); ax1.set_ylabel('requests')
        # percentiles per 5-scrape window
        pts = {0.5: [], 0.9: [], 0.99: []}; tw = []
        step = 5
        for i in range(step, len(grid), step):
            d = diff_buckets(buckets(s, 'freqfusion_request_duration_seconds_bucket', {'outcome': 'ok'}, at=i - step),
                             buckets(s, 'freqfusion_request_duration_seconds_bucket', {'outcome': 'ok'}, at=i))
            if d and list(d.values())[-1] > 0:
                tw.append(grid[i] - t0)
                for q in pts: pts[q].append(1e3 * quantile(q, d))
        for q, v in pts.items(): ax2.plot(tw, v, marker='.', label=f'p{int(q*100)}')
        ax2.set_title('Latency percentiles over time, ok (ms)'); ax2.set_xlabel('s'); ax2.grid(alpha=.3); ax2.legend(fontsize=7)
    save(fig, 'latency.png', 'freqfusion_request_duration_seconds_bucket (outcome=ok): histogram and histogram_quantile over 5 s windows')

    # 6. queue wait and CPU
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    tw = []; pw = []
    for i in range(5, len(grid), 5):
        d = diff_buckets(buckets(s, 'freqfusion_queue_wait_seconds_bucket', at=i - 5), buckets(s, 'freqfusion_queue_wait_seconds_bucket', at=i))
        if d and list(d.values())[-1] > 0: tw.append(grid[i] - t0); pw.append(1e3 * quantile(0.99, d))
    ax1.plot(tw, pw, marker='.'); ax1.set_title('Queue wait p99 (ms)'); ax1.set_xlabel('s'); ax1.grid(alpha=.3)
    t, g = grouped(s, 'process_cpu_usage', None)
    for k, v in g.items(): ax2.plot(t - t0, 100 * v)
    ax2.set_title('Process CPU (% of all cores)'); ax2.set_xlabel('s'); ax2.grid(alpha=.3)
    save(fig, 'queue_wait_cpu.png', 'freqfusion_queue_wait_seconds p99 and process_cpu_usage')

    json.dump(summary, open(os.path.join(a.out, 'summary.json'), 'w'), indent=2)
    with open(os.path.join(a.out, 'index.html'), 'w') as f:
        f.write(f'<!doctype html><meta charset="utf-8"><title>{html.escape(a.title)}</title>'
                f'<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}img{{max-width:100%}}pre{{background:#f4f4f4;padding:8px}}</style>'
                f'<h1>{html.escape(a.title)}: server-side view</h1><p>From /q/metrics scraped every second during the run '
                f'({len(grid)} scrapes, {grid[-1]-grid[0]:.0f} s). Gatling\'s client-side report: <a href="../gatling/index.html">../gatling/index.html</a> (REST runs).</p>'
                f'<pre>{html.escape(json.dumps(summary, indent=2))}</pre>')
        for name, cap in charts:
            f.write(f'<h3>{html.escape(cap)}</h3><img src="{name}">')
    print(json.dumps(summary))

if __name__ == '__main__':
    main()

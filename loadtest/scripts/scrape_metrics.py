#!/usr/bin/env python3
"""Poll a FreqFusion Serve /q/metrics endpoint every --interval seconds into a CSV (long format).

    scrape_metrics.py --url http://127.0.0.1:8080/q/metrics --out results/run/metrics.csv [--duration 120]

Stops after --duration seconds, on SIGTERM/SIGINT, or when --stop-file appears. Keeps the freqfusion_* series
and a few process/JVM ones. Standard library only. Columns: t (s since start), unix_ts, name, labels, value.
"""
import argparse, csv, os, re, signal, sys, time, urllib.request

KEEP = re.compile(r'^(freqfusion_[a-z_]+|process_cpu_usage|jvm_memory_used_bytes|http_server_requests_seconds_count)$')
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')

def parse(text):
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = LINE.match(line)
        if not m or not KEEP.match(m.group(1)):
            continue
        try:
            v = float(m.group(4))
        except ValueError:
            continue
        yield m.group(1), m.group(3) or '', v

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--url', default='http://127.0.0.1:8080/q/metrics')
    ap.add_argument('--out', required=True)
    ap.add_argument('--interval', type=float, default=1.0)
    ap.add_argument('--duration', type=float, default=900)
    ap.add_argument('--stop-file')
    a = ap.parse_args()
    host = re.match(r'^https?://([^/:\]]+|\[[^\]]+\])', a.url).group(1).strip('[]')
    if host not in ('127.0.0.1', 'localhost', '::1') and not host.startswith('127.'):
        sys.exit('scrape_metrics: only loopback targets are allowed here: ' + host)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__(0, True))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    t0 = time.time(); n = 0; errors = 0
    with open(a.out, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['t', 'unix_ts', 'name', 'labels', 'value'])
        while not stop[0] and time.time() - t0 < a.duration:
            if a.stop_file and os.path.exists(a.stop_file):
                break
            tick = time.time()
            try:
                with urllib.request.urlopen(a.url, timeout=max(0.5, a.interval * 0.9)) as r:
                    body = r.read().decode('utf-8', 'replace')
                t = round(tick - t0, 3)
                for name, labels, v in parse(body):
                    w.writerow([t, round(tick, 3), name, labels, v])
                f.flush(); n += 1
            except Exception as e:  # service not up yet, or busy: keep polling
                errors += 1
            time.sleep(max(0.0, a.interval - (time.time() - tick)))
    print(f'scrape_metrics: {n} scrapes ({errors} failed) -> {a.out}', file=sys.stderr)

if __name__ == '__main__':
    main()

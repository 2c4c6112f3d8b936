#!/usr/bin/env python3
"""Long synthetic streams in NAB's layout, for checks the NAB development subset cannot give.

The subset's files are at most 4,730 readings long and none has heavy-tailed bursts. Venue
sensors run for weeks, and people counts burst. This writes two categories of 16,000
readings each (55 days at 5-minute sampling), with two labelled anomalies per file and NAB's
window geometry (10 % of the file's length shared by its anomalies, centred on each):

  synthCounts   Poisson counts on a daily and weekly rhythm, plus heavy-tailed bursts
                (1 % of readings on average; size Pareto, index 1.5). Anomalies: a surge
                (3x the rate for 2 hours), a dropout (zeros for 3 hours), a giant burst
                (400x the base rate), a lasting shift (2x the rate).
  synthSensors  a daily cycle plus AR(1) noise plus a slow random walk (temperature-like).
                Anomalies: a stuck value (6 hours), a lasting step, a noisy stretch (4x the
                noise for 100 readings), a spike, a ramp out of the usual range.

Usage: bench/nab_synth.py OUT_DIR [SEED] [--with NAB_DIR]   (deterministic; stdlib only)
       --with also copies NAB_DIR's categories and labels into OUT_DIR: one corpus of short
       and long files, scored with one threshold as NAB scores its full corpus.
Then:  vigil detect --nab-data OUT_DIR --results R and nab_score.py --nab-data OUT_DIR
       --labels OUT_DIR/windows.json --results R --detector vigil.
OUT_DIR/anomalies.json lists each file's anomalies (row, kind). docs/detector-experiments.md
has the scores and what they showed."""
import datetime
import json
import math
import os
import random
import shutil
import sys

N = 16000
T0 = datetime.datetime(2015, 3, 2)


def stamp(i):
    return (T0 + datetime.timedelta(minutes=5 * i)).strftime('%Y-%m-%d %H:%M:%S')


def poisson(rng, lam):
    if lam >= 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def daily(i, phase):
    """0..1 over a day, lowest at hour -phase."""
    h = (i * 5 / 60.0 + phase) % 24
    return 0.5 - 0.5 * math.cos(2 * math.pi * h / 24)


def anomalies(rng, kinds):
    """Two anomalies after the probationary period, at least 2,500 readings apart."""
    kinds = rng.sample(kinds, 2)
    rows = sorted(rng.sample(range(int(0.2 * N), N - 800), 2))
    if rows[1] - rows[0] < 2500:
        rows[1] = min(N - 800, rows[0] + 2500)
        rows[0] = rows[1] - 2500  # when the first is too late for the second to follow it
    return list(zip(rows, kinds))


def counts(rng, f):
    base = [4, 15, 60, 200, 30, 8][f]
    p_burst = [0.005, 0.01, 0.02, 0.01, 0.005, 0.015][f]
    an = anomalies(rng, ['surge', 'dropout', 'giant', 'shift'])
    vals = []
    for i in range(N):
        weekend = (i * 5 // 1440) % 7 >= 5
        lam = base * (0.3 + 1.4 * daily(i, f)) * (0.6 if weekend else 1.0)
        for a, k in an:
            if (k == 'surge' and a <= i < a + 24) or (k == 'shift' and i >= a):
                lam *= 3 if k == 'surge' else 2
        v = poisson(rng, lam)
        if rng.random() < p_burst:
            v += int(base * min(200.0, rng.paretovariate(1.5)))
        for a, k in an:
            if k == 'dropout' and a <= i < a + 36:
                v = 0
            if k == 'giant' and i == a:
                v += base * 400
        vals.append(v)
    return vals, an


def sensor(rng, f):
    amp = [5, 2, 8, 1, 3, 6][f]
    sig = [0.3, 0.5, 0.2, 0.4, 1.0, 0.6][f]
    an = anomalies(rng, ['stuck', 'step', 'noisy', 'spike', 'ramp'])
    vals, e, walk, stuck = [], 0.0, 0.0, None
    for i in range(N):
        e = 0.9 * e + rng.gauss(0, sig)
        walk = 0.999 * (walk + rng.gauss(0, 0.01 * amp))
        v = 20 + amp * daily(i, 3 * f) + walk + e
        for a, k in an:
            if k == 'stuck' and a <= i < a + 72:
                stuck = round(v, 1) if stuck is None else stuck
                v = stuck
            elif k == 'step' and i >= a:
                v += 4 * sig + 0.5 * amp
            elif k == 'noisy' and a <= i < a + 100:
                v += rng.gauss(0, 4 * sig)
            elif k == 'spike' and i == a:
                v += 10 * sig + amp
            elif k == 'ramp' and a <= i < a + 150:
                v += (i - a) / 150 * (2 * amp + 6 * sig)
        vals.append(round(v, 3))
    return vals, an


def main():
    args = sys.argv[1:]
    if args and args[0] in ('-h', '--help'):
        print(__doc__)
        return
    nab = None
    if '--with' in args:
        k = args.index('--with')
        if k + 1 >= len(args):
            sys.exit(__doc__)
        nab = args[k + 1]
        del args[k:k + 2]
    if len(args) not in (1, 2) or args[0].startswith('-') or \
            (len(args) == 2 and not args[1].isdigit()):
        sys.exit(__doc__)  # exit status 1, the usage on stderr
    out, seed = args[0], int(args[1]) if len(args) == 2 else 1
    windows, kinds = {}, {}
    if nab:
        with open(os.path.join(nab, 'windows.json')) as fh:
            windows.update(json.load(fh))
        for cat in sorted(os.listdir(nab)):
            if os.path.isdir(os.path.join(nab, cat)):
                shutil.copytree(os.path.join(nab, cat), os.path.join(out, cat),
                                dirs_exist_ok=True)
    half = int(0.1 * N / 2) // 2  # two anomalies share 10 % of the file
    for cat, name, make, salt in (('synthCounts', 'counts', counts, 0),
                                  ('synthSensors', 'sensor', sensor, 50)):
        os.makedirs(os.path.join(out, cat), exist_ok=True)
        for f in range(6):
            vals, an = make(random.Random(seed * 100 + salt + f), f)
            rel = '%s/%s_%d.csv' % (cat, name, f)
            with open(os.path.join(out, rel), 'w') as fh:
                fh.write('timestamp,value\n')
                fh.writelines('%s,%s\n' % (stamp(i), v) for i, v in enumerate(vals))
            windows[rel] = [[stamp(a - half) + '.000000', stamp(a + half) + '.000000']
                            for a, _ in an]
            kinds[rel] = an
    with open(os.path.join(out, 'windows.json'), 'w') as fh:
        json.dump(windows, fh, indent=1)
    with open(os.path.join(out, 'anomalies.json'), 'w') as fh:
        json.dump(kinds, fh, indent=1)


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""Reference B-mode pipeline, written the way a user would with the usual
tools: scipy.signal.hilbert (float32) + numpy 20*log10 + cv2.remap with
precomputed fixed-point maps (CV_16SC2), single thread.

Same synthetic int16 speckle RF, same geometry and display raster as
`talus bench imaging`; prints ONE JSON object with per-stage medians in ms
(envelope_ms, compress_ms, scan_convert_ms, total_ms) and frames.

Run it with Debian's /usr/bin/python3 (python3-scipy, python3-opencv)."""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402
import cv2  # noqa: E402


def geometry(args):
    g = dict(lines=args.lines, samples=args.samples, pitch=0.3, radius=0.0,
             f0=10e6, fs=40e6, c=1540.0, d0=0.0)
    if args.convex:
        g.update(pitch=0.5, radius=40.0, f0=5e6, fs=20e6)
    g["dz"] = g["c"] / (2 * g["fs"]) * 1000.0
    return g


def synth_rf(g, rng):
    """Gaussian scatterers convolved with a 3-cycle pulse, attenuated."""
    taps = int(3 * g["fs"] / g["f0"]) | 1
    t = (np.arange(taps) - taps // 2) / g["fs"]
    sig = 1.0 / g["f0"]
    pulse = np.exp(-0.5 * t * t / sig ** 2) * np.cos(2 * np.pi * g["f0"] * t)
    sc = rng.standard_normal((g["lines"], g["samples"]))
    rf = np.array([np.convolve(row, pulse, mode="same") for row in sc])
    att = np.exp(-2.0 * np.arange(g["samples"]) / g["samples"])
    return np.clip(rf * 4000.0 * att, -32768, 32767).astype(np.int16)


def sample_xz(g, line, sample):
    u = line - 0.5 * (g["lines"] - 1)
    r = g["d0"] + sample * g["dz"]
    if g["radius"] > 0:
        th = u * g["pitch"] / g["radius"]
        rr = g["radius"] + r
        return rr * np.sin(th), rr * np.cos(th) - g["radius"]
    return u * g["pitch"], r


def maps(g, width, height):
    """Display pixel -> (sample, line) maps, as cv2.remap wants them."""
    ls = np.array([0, 0.5 * (g["lines"] - 1), g["lines"] - 1])
    ss = np.array([0, g["samples"] - 1])
    x, z = sample_xz(g, ls[:, None], ss[None, :])
    xmin, xmax, zmin, zmax = x.min(), x.max(), z.min(), z.max()
    s = max((xmax - xmin) / (width - 1), (zmax - zmin) / (height - 1))
    ox = 0.5 * (xmin + xmax) - 0.5 * (width - 1) * s
    xx, zz = np.meshgrid(ox + np.arange(width) * s, zmin + np.arange(height) * s)
    if g["radius"] > 0:
        R = g["radius"]
        th = np.arctan2(xx, zz + R)
        r = np.hypot(xx, zz + R) - R
        line = th * R / g["pitch"] + 0.5 * (g["lines"] - 1)
    else:
        r = zz
        line = xx / g["pitch"] + 0.5 * (g["lines"] - 1)
    sample = (r - g["d0"]) / g["dz"]
    return cv2.convertMaps(sample.astype(np.float32), line.astype(np.float32),
                           cv2.CV_16SC2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=128)
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--width", type=int, default=800)
    ap.add_argument("--height", type=int, default=600)
    ap.add_argument("--dynamic-range", type=float, default=60.0)
    ap.add_argument("--convex", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--save", help="write the last B-mode as PNG")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    g = geometry(args)
    rng = np.random.default_rng(args.seed)
    frames = [synth_rf(g, rng) for _ in range(4)]
    map1, map2 = maps(g, args.width, args.height)
    ref_db = 20 * np.log10(32767.0)
    dr = args.dynamic_range
    times = {k: [] for k in ("envelope_ms", "compress_ms", "scan_convert_ms", "total_ms")}
    for i in range(args.frames + 3):
        rf = frames[i % len(frames)]
        t0 = time.perf_counter()
        env = np.abs(scipy.signal.hilbert(rf.astype(np.float32), axis=1))
        t1 = time.perf_counter()
        db = 20 * np.log10(env + 1e-6)
        img = np.clip((db - ref_db + dr) * (255.0 / dr), 0, 255).astype(np.uint8)
        t2 = time.perf_counter()
        out = cv2.remap(img, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                        borderValue=0)
        t3 = time.perf_counter()
        if i >= 3:
            times["envelope_ms"].append((t1 - t0) * 1e3)
            times["compress_ms"].append((t2 - t1) * 1e3)
            times["scan_convert_ms"].append((t3 - t2) * 1e3)
            times["total_ms"].append((t3 - t0) * 1e3)
    res = {k: float(np.median(v)) for k, v in times.items()}
    res.update(frames=args.frames, lines=args.lines, samples=args.samples,
               width=args.width, height=args.height,
               geometry="convex" if args.convex else "linear")
    if args.save:
        cv2.imwrite(args.save, out)
    if args.json:
        print(json.dumps(res))
    else:
        print("reference %s %dx%d -> %dx%d: envelope %.3f ms, compress %.3f ms, "
              "scan conversion %.3f ms, total %.3f ms" % (
                  res["geometry"], args.lines, args.samples, args.width, args.height,
                  res["envelope_ms"], res["compress_ms"], res["scan_convert_ms"],
                  res["total_ms"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/sh
# Regenerate docs/sim-*.png (run from the repository root after a build):
#   hw-sim/render_docs.sh [path/to/talus]
set -e
T=${1:-build/dev/apps/talus/talus}
r() { out=$1; shift; "$T" sim render "$@" -o "docs/sim-$out.png"; }
r plantar-fascia plantar-fascia --seed 1
r plantar-fascia-thick plantar-fascia --seed 1 --param thickness_mm=5.5 --param lesion=1 --param fluid=1
r achilles achilles --seed 1
r achilles-insertion achilles --seed 2 --param site=insertion --param lesion=1 --param lesion_kind=anechoic --param lesion_width_mm=5 --param lesion_depth_mm=0.8
r achilles-anisotropy achilles --seed 1 --param anisotropy_deg=10
r ankle-recess ankle-recess --seed 1
r ankle-recess-grade3 ankle-recess --seed 1 --param effusion_grade=3
r wire-phantom wire-phantom --seed 1
r uniform-phantom uniform-phantom --seed 1
r in-air in-air --seed 1 --param dead_elements=40,90 --param weak_elements=64
r needle-insertion needle-insertion --seed 1 --frame 50
r needle-guide needle-guide --seed 1 --param guide_angle_deg=35
r plantar-fascia-convex plantar-fascia --seed 1 --param convex=1 --param radius_mm=40 --param depth_mm=45 --param f0_mhz=7.5

#!/usr/bin/env bash
# Re-renders the committed PNGs from scaleboard.svg (Debian: apt-get install librsvg2-bin).
# Run after editing the SVG and commit the PNGs; the build and the tests never run this.
set -euo pipefail
cd "$(dirname "$0")"
for size in 16 22 24 32 48 64 128 256 512; do
  rsvg-convert -w "$size" -h "$size" scaleboard.svg -o "scaleboard-$size.png"
done

#!/usr/bin/env bash
# Load time of a full-size MViTv2-S checkpoint (random weights, PySlowFast layout, 138 MB) with dualdistill's
# restricted reader vs torch.load (Debian python3-torch) of the same file, in one script.
#   benchmarks/checkpoint_load.sh [FILE]     (default /tmp/mvitv2_s_random.pyth, made by the dev script if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
f=${1:-/tmp/mvitv2_s_random.pyth}
[ -f "$f" ] || /usr/bin/python3 native/dev/make_checkpoint_fixtures.py --full-mvit "$f"
mvn -B -q -o compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt >/dev/null
cat "$f" > /dev/null # page cache warm for both readers
java --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  -cp "target/classes:$(cat target/cp.txt)" benchmarks/CheckpointLoad.java "$f"
/usr/bin/python3 benchmarks/python/torch_load.py "$f"

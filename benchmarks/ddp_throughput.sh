#!/usr/bin/env bash
# Data-parallel training throughput: the same tiny synthetic distillation run on 1 rank and on 2 ranks of one host,
# all through `dualdistill launch` (Gloo over loopback, c10d Reducer), with the same per-rank batch and
# OMP_NUM_THREADS set per configuration. The distill command prints
# job-wide clips/s: training clips of all ranks / wall time of the slowest rank (evaluation excluded).
#
#   benchmarks/ddp_throughput.sh [epochs] [batch-per-rank] [extra distill args...]
#
# Needs `mvn -o compile` first (uses target/classes and the Maven runtime class path).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
java="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
epochs="${1:-2}"; batch="${2:-4}"; shift $(( $# > 2 ? 2 : $# ))
cd "$repo"
[ -f target/cp.txt ] || mvn -B -o -q dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=runtime
cp="target/classes:$(cat target/cp.txt)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dd() { "$java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Xmx2g -cp "$cp" org.dualdistill.cli.Main "$@"; }
dd generate --out "$work/data" --classes 4 --videos-per-class 8 --size 64 --frames 16 20 --seed 1 >/dev/null
# ranks:threads-per-rank; 1:1 vs 2:1 is the like-for-like pair (same threads per rank); 1:2 is one process using both
# cores, where OpenMP spin-waiting suffers badly if other processes load the machine
for cfg in 1:2 1:1 2:1; do
  n="${cfg%%:*}"; t="${cfg##*:}"
  echo "== $n rank(s) x $t thread(s), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  OMP_NUM_THREADS="$t" dd launch --nproc-per-node "$n" --master-port 0 -- distill --data "$work/data" --epochs "$epochs" \
     --batch "$batch" --seed 3 --allow-untrained-teachers --set model.view.crop=48 --set teachers.0.view.crop=48 --set teachers.1.view.crop=48 --set run.logEvery=1000 --dist-timeout 120 "$@" 2>&1 | grep -E "^(mode|ce|distill)"
done

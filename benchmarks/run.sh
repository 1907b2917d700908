#!/usr/bin/env bash
# Builds and runs the dualdistill JMH benchmarks, then the eager-PyTorch baseline.
#
#   benchmarks/run.sh [--short] [--no-build] [JMH args...]
#
#   --short     CI-sized smoke run: -wi 1 -i 1 -w 200ms -r 200ms -f 1 (numbers are not meaningful), and a short
#               Python baseline
#   --no-build  reuse benchmarks/target/benchmarks.jar as it is (skip installing the library and packaging)
#   JMH args    passed through to org.openjdk.jmh.Main after the --short options, e.g.
#                 benchmarks/run.sh DatwLossBenchmark
#                 benchmarks/run.sh DatwLossBenchmark -p shape=64x400x2 -p backend=FUSED_CPU -p threads=1
#                 benchmarks/run.sh --short InferenceBenchmark      (VideoClassifier latency/throughput, 1-8 callers)
#               (with -p threads=N, run the baseline by hand with --threads N to compare like with like)
#
# Steps: find a JDK >= 25 (JAVA_HOME if it is one, else the newest under /usr/lib/jvm), install the library from
# the repository root (mvn -q -B install -DskipTests), package benchmarks/target/benchmarks.jar, run JMH with the
# JSON result in benchmarks/target/jmh-result.json (InferenceBenchmark adds per-iteration p50/p99 latencies to
# benchmarks/target/inference-latency.csv), and run benchmarks/python/datw_eager.py with /usr/bin/python3
# when that interpreter has torch (Debian's python3-torch).
#
# Threads: both sides default to 2 threads (@Param threads, torch.set_num_threads(2)). Where other processes keep
# a core busy, OpenMP's spin-waiting at 2 threads can inflate times by an order of magnitude or more on both
# sides: measure on an otherwise idle machine, or compare with -p threads=1 / --threads 1. OMP_WAIT_POLICY=PASSIVE
# in the environment (inherited by the JMH forks and by Python) removes the spinning, and changes what is measured.
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_dir="$(cd "$bench_dir/.." && pwd)"
# glibc malloc keeps freed tensor memory for reuse, in the JMH forks and the Python baseline alike
# (src/main/sh/malloc-env.sh; DUALDISTILL_MALLOC=system measures glibc's defaults instead)
# shellcheck source=../src/main/sh/malloc-env.sh
source "$repo_dir/src/main/sh/malloc-env.sh"
python=/usr/bin/python3

short=0
build=1
jmh_args=()
for arg in "$@"; do
    case "$arg" in
        --short) short=1 ;;
        --no-build) build=0 ;;
        *) jmh_args+=("$arg") ;;
    esac
done

# Prints the feature release (25, 17, ...) of the JDK at $1, or nothing if $1/bin/java does not run.
jdk_release() {
    "$1/bin/java" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1
}

find_jdk() {
    local best="" best_release=0 home release
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" && -x "$JAVA_HOME/bin/javac" ]]; then
        release="$(jdk_release "$JAVA_HOME")"
        if [[ -n "$release" && "$release" -ge 25 ]]; then
            echo "$JAVA_HOME"
            return 0
        fi
    fi
    for home in /usr/lib/jvm/*; do
        [[ -x "$home/bin/java" && -x "$home/bin/javac" ]] || continue
        release="$(jdk_release "$home")"
        if [[ -n "$release" && "$release" -ge 25 && "$release" -gt "$best_release" ]]; then
            best="$home"
            best_release="$release"
        fi
    done
    [[ -n "$best" ]] || return 1
    echo "$best"
}

if ! jdk="$(find_jdk)"; then
    echo "run.sh: no JDK >= 25 found (JAVA_HOME=${JAVA_HOME:-unset}, nothing suitable under /usr/lib/jvm); set JAVA_HOME" >&2
    exit 1
fi
export JAVA_HOME="$jdk"
echo "run.sh: JDK $JAVA_HOME (release $(jdk_release "$JAVA_HOME"))"
echo "run.sh: malloc MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-} MALLOC_MMAP_MAX_=${MALLOC_MMAP_MAX_:-} GLIBC_TUNABLES=${GLIBC_TUNABLES:-}"

jar="$bench_dir/target/benchmarks.jar"
if [[ "$build" -eq 1 ]]; then
    echo "run.sh: installing the library (mvn -q -B install -DskipTests in $repo_dir)"
    (cd "$repo_dir" && mvn -q -B install -DskipTests)
    # Run from benchmarks/ so Maven picks up benchmarks/.mvn/maven.config (-Djavacpp.platform=linux-x86_64).
    echo "run.sh: packaging $jar"
    (cd "$bench_dir" && mvn -q -B package)
elif [[ ! -f "$jar" ]]; then
    echo "run.sh: --no-build but $jar does not exist; run without --no-build first" >&2
    exit 1
fi

opts=()
if [[ "$short" -eq 1 ]]; then
    opts+=(-wi 1 -i 1 -w 200ms -r 200ms -f 1)
fi
opts+=(-rf json -rff "$bench_dir/target/jmh-result.json")

echo "run.sh: java -jar $jar ${opts[*]} ${jmh_args[*]:-}"
# No JVM flags here: JMH would copy them into every fork; the forks get --enable-native-access from @Fork.
# Run from benchmarks/ so files the benchmarks write under target/ land in benchmarks/target.
(cd "$bench_dir" && "$JAVA_HOME/bin/java" -jar "$jar" "${opts[@]}" "${jmh_args[@]}")

if [[ -f "$bench_dir/target/inference-latency.csv" ]]; then
    echo "run.sh: inference latency per iteration (benchmarks/target/inference-latency.csv, last lines):"
    tail -n 32 "$bench_dir/target/inference-latency.csv"
fi

if [[ -x "$python" ]] && "$python" -c 'import torch' >/dev/null 2>&1; then
    py_args=()
    if [[ "$short" -eq 1 ]]; then
        py_args+=(--warmup 5 --iters 50)
    fi
    echo "run.sh: eager PyTorch baseline ($python benchmarks/python/datw_eager.py ${py_args[*]:-})"
    "$python" "$bench_dir/python/datw_eager.py" "${py_args[@]}"
else
    echo "run.sh: skipping the eager PyTorch baseline ($python has no torch; apt-get install python3-torch)"
fi

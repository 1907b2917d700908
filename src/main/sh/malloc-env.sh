# shellcheck shell=bash
# Sourced by ./dualdistill and benchmarks/run.sh before they start a JVM: glibc's malloc settings for LibTorch on
# the CPU. (They must be in the environment when the process starts; glibc reads them once, at its first malloc.)
#
# Why: with glibc's defaults every block above the mmap threshold (at most 32 MiB) is mapped fresh from the kernel
# and unmapped on free, and a thread outside the main arena maps any block too big for its 64 MiB heaps the same
# way; the kernel zero-fills each page of such a block on first touch. A CPU training step allocates and frees
# gigabytes of activations (X3D-S at batch 8: blocks of 18-144 MiB), so each step paid for zero-filling them all
# again: 19% of a training step's samples in the kernel's clear_page_erms, and X3D-S batch-8 training steps 3.7x
# (fast depthwise) to 10x (LibTorch's depthwise, oneDNN off) slower than with the settings below
# (benchmarks/RESULTS.md, "The allocator"). The settings:
#   MALLOC_ARENA_MAX=1              every thread allocates from the main heap, which can hold blocks of any size
#   MALLOC_MMAP_MAX_=0              no per-block mappings: freed blocks go back to the heap and are reused
#   MALLOC_TRIM_THRESHOLD_=64 GiB   the heap's free top is not handed back to the kernel after each step
#   MALLOC_TOP_PAD_=256 MiB         the heap grows in large steps
# Cost: the resident set stays near the run's peak instead of falling between steps (malloc_trim still returns it).
# DUALDISTILL_MALLOC=system, or any of these variables or GLIBC_TUNABLES already set, leaves the environment alone.
dualdistill_malloc_env() {
  [[ "${DUALDISTILL_MALLOC:-}" == "system" ]] && return 0
  [[ -n "${MALLOC_ARENA_MAX:-}${MALLOC_MMAP_MAX_:-}${MALLOC_TRIM_THRESHOLD_:-}${MALLOC_TOP_PAD_:-}${GLIBC_TUNABLES:-}" ]] && return 0
  [[ "$(uname -s)" == "Linux" ]] || return 0
  export MALLOC_ARENA_MAX=1 MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=268435456
}
dualdistill_malloc_env

#!/usr/bin/env bash
# Regenerates the Panama bindings of jextract/dualdistill_kernels.h into
# src/main/java/org/dualdistill/internal/ffm (committed; never edit them by hand).
#
# Needs `jextract` on the PATH (built from openjdk/jextract with a JDK >= 25 and libclang 14; see the README's
# "Regenerating the bindings"). No --library flag: the bindings resolve symbols through the class loader's lookup,
# after org.dualdistill.internal.kernels.NativeLibrary has System.load()ed the libraries extracted from the jar,
# so no path and no java.library.path is baked in.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
out="$root/src/main/java"
pkg=org.dualdistill.internal.ffm
command -v jextract >/dev/null || { echo "regen.sh: jextract is not on the PATH" >&2; exit 1; }
rm -rf "$out/org/dualdistill/internal/ffm"
jextract \
  --output "$out" \
  --target-package "$pkg" \
  --header-class-name DualdistillNative \
  --include-function dd_abi_version \
  --include-function dd_status_string \
  --include-function dd_datw_cpu \
  --include-function dd_datw_cuda \
  --include-function dd_cuda_device_count \
  --include-function dd_sdd_cpu \
  --include-function dd_sdd_cuda \
  --include-function dd_rkd_workspace_floats \
  --include-function dd_rkd_cpu \
  --include-function dd_rkd_cuda \
  --include-function dd_dwconv3d_cpu \
  --include-function dd_dwconv3d_cuda \
  --include-struct dd_datw_params \
  --include-typedef dd_datw_params \
  --include-struct dd_sdd_params \
  --include-typedef dd_sdd_params \
  --include-struct dd_rkd_params \
  --include-typedef dd_rkd_params \
  --include-struct dd_dwconv3d_params \
  --include-typedef dd_dwconv3d_params \
  --include-typedef dd_status \
  --include-typedef dd_dtype \
  --include-constant DD_ABI_VERSION \
  --include-constant DD_MAX_TEACHERS \
  $(grep -oE '\bDD_(OK|ERR_[A-Z_]+|FLOAT32|FLOAT16|BFLOAT16|WEIGHTING_[A-Z]+|SCORE_[A-Z]+|NORM_[A-Z]+|DWCONV_[A-Z_]+|LAYOUT_[A-Z]+)\b' "$here/dualdistill_kernels.h" \
      | sort -u | sed 's/^/--include-constant /') \
  "$here/dualdistill_kernels.h"
# The header's fingerprint at generation time; HeaderBindingsTest fails when the header changes without a regen.
sha256sum "$here/dualdistill_kernels.h" | cut -d' ' -f1 > "$here/bindings.sha256"
echo "regenerated $(ls "$out/org/dualdistill/internal/ffm" | wc -l) files in $pkg"

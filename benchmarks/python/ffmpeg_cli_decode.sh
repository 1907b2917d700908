#!/usr/bin/env bash
# Times Debian's ffmpeg command line decoding a video and scaling every frame to 160x160 rgb24, the baseline of
# DecodeBenchmark (which runs the same command on its own generated files in its ffmpegCli benchmark).
#
#   benchmarks/python/ffmpeg_cli_decode.sh [file.avi] [repetitions]
#
# Without a file it generates a 30 s, 320x240, 30 fps MPEG-4 AVI (qscale 5, a keyframe every 12 frames) from
# ffmpeg's testsrc2 pattern into a temporary folder. Prints the frame count (ffprobe, counted packets) and, per
# repetition and as the best of all, frames per second including process start (single thread, as the JVM side).
# Override the binary with FFMPEG=/path/to/ffmpeg (e.g. the bundled one in the JavaCPP cache).
set -euo pipefail

ffmpeg="${FFMPEG:-/usr/bin/ffmpeg}"
ffprobe="${FFPROBE:-/usr/bin/ffprobe}"
file="${1:-}"
reps="${2:-5}"
[[ -x "$ffmpeg" ]] || { echo "ffmpeg_cli_decode.sh: $ffmpeg not found (apt-get install ffmpeg, or set FFMPEG)" >&2; exit 1; }

tmp=""
if [[ -z "$file" ]]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    file="$tmp/testsrc2_320x240_30s.avi"
    "$ffmpeg" -v error -f lavfi -i testsrc2=size=320x240:rate=30:duration=30 -c:v mpeg4 -q:v 5 -g 12 -bf 0 -pix_fmt yuv420p -y "$file"
fi

frames="$("$ffprobe" -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$file")"
echo "file: $file ($frames frames), $("$ffmpeg" -version | head -n 1)"
best=0
for ((i = 1; i <= reps; i++)); do
    t0="$(date +%s%N)"
    "$ffmpeg" -v error -threads 1 -i "$file" -vf scale=160:160 -pix_fmt rgb24 -f rawvideo -y /dev/null
    t1="$(date +%s%N)"
    fps="$(awk -v f="$frames" -v ns="$((t1 - t0))" 'BEGIN { printf "%.0f", f / (ns / 1e9) }')"
    echo "run $i: $fps frames/s"
    if ((fps > best)); then best="$fps"; fi
done
echo "best: $best frames/s (decode + scale to 160x160 rgb24, 1 thread, incl. process start)"

#!/usr/bin/env bash
# Draws every figure from a directory of archives, recognising each archive
# by its job name (mnist-paper, gaussian-paper, vib-mnist(-reduced),
# gaussian-ib, quick-demo, the reduced twin-* jobs, the *-spikes jobs,
# gaussian-paper-long, mnist-paper-end, mnist-paper-long and the sensitivity-*
# study); each figure is a PNG with a CSV of the numbers behind it, both made
# by the ranksweep_analysis package.
# Usage: analysis/reproduce.sh ARCHIVE_DIR [OUT_DIR]   (OUT_DIR defaults to ARCHIVE_DIR/figures)
set -euo pipefail

if (($# < 1 || $# > 2)) || [[ ! -d "$1" ]]; then
  echo "usage: analysis/reproduce.sh ARCHIVE_DIR [OUT_DIR]" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
in="$1"
out="${2:-$1/figures}"
mkdir -p "$out"
py=/usr/bin/python3
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
# An archive still being written is readable: do not wait on HDF5's lock.
export HDF5_USE_FILE_LOCKING=FALSE

fig() {  # KIND ARCHIVE OUT.png [ARGS...]
  local kind="$1" archive="$2" png="$3"
  shift 3
  "$py" -m "ranksweep_analysis.plots.$kind" "$archive" -o "$png" "$@"
}

n=0 failed=0
sens=()
ends=()
shopt -s nullglob
for a in "$in"/*.h5; do
  job="$("$py" -c 'import sys, ranksweep_analysis as ra
with ra.open_h5(sys.argv[1]) as f:
    ra.archive.format_version(f)
    print(ra.archive._text(f.attrs["job_name"]))' "$a" 2>/dev/null)" || {
    echo "reproduce: $a: not a readable ranksweep archive; skipped" >&2
    continue
  }
  base="$out/$(basename "${a%.h5}")"
  echo "== $a (job $job)"
  case "$job" in
    mnist-paper | gaussian-paper | quick-demo | twin-*)
      fig localrank "$a" "$base-localrank.png" --eps 0.01 || failed=$((failed + 1))
      if "$py" -c 'import sys, ranksweep_analysis as ra; sys.exit(0 if "info_proxy" in ra.load(sys.argv[1]) else 1)' "$a"; then
        # sigma 0.1: the proxy the claim test and reproduction.md read
        fig info "$a" "$base-info.png" --eps 0.01 --proxy gauss --noise 0.1 || failed=$((failed + 1))
      else
        echo "reproduce: $a has no /spectrum: no information-proxy figure (run ranksweep spectrum on it)"
      fi
      ;;
    vib-mnist | vib-mnist-reduced)
      # The hidden layers fall with beta at eps 0.01; the encoder mean (256
      # wide) stays full there and falls at the coarser 0.1.
      fig vib "$a" "$base-vib.png" --eps 0.01 || failed=$((failed + 1))
      fig vib "$a" "$base-vib-eps0.1.png" --eps 0.1 || failed=$((failed + 1))
      fig info "$a" "$base-info-eps0.1.png" --eps 0.1 --proxy rate || failed=$((failed + 1))
      ;;
    gaussian-ib)
      # eps 0.03: the job's middle threshold, at which the theory test is stated.
      fig vib "$a" "$base-vib.png" --eps 0.03 --theory || failed=$((failed + 1))
      fig info "$a" "$base-info.png" --eps 0.03 --proxy rate || failed=$((failed + 1))
      ;;
    gaussian-paper-spikes | sensitivity-spikes)
      # training loss and local rank at every checkpoint, per run
      "$py" -m ranksweep_analysis.reproduction --spikes "$a" "$base.csv" || failed=$((failed + 1))
      ;;
    gaussian-paper-long | sensitivity-end | mnist-paper-end | mnist-paper-long)
      # runs to the fall's end: per layer, their curves (CSV and figure), a row
      # each in the sensitivity table and, after the loop, the figure of the
      # deepest layer against step x lr
      fig localrank "$a" "$base-localrank.png" --eps 0.01 || failed=$((failed + 1))
      "$py" -m ranksweep_analysis.reproduction --spikes "$a" "$base.csv" || failed=$((failed + 1))
      sens+=("$a")
      ends+=("$base.csv")
      ;;
    sensitivity-*)
      # one table over all of them, after the loop
      sens+=("$a")
      ;;
    *)
      echo "reproduce: $a: job $job is none of mnist-paper, gaussian-paper, quick-demo, vib-mnist(-reduced), gaussian-ib, twin-*, *-spikes, gaussian-paper-long, mnist-paper-end, mnist-paper-long, sensitivity-*; skipped"
      continue
      ;;
  esac
  n=$((n + 1))
done
if ((${#ends[@]})); then
  echo "== where the fall ends: ${#ends[@]} archives"
  "$py" -m ranksweep_analysis.reproduction --fall-end "$out/fall-end.png" "${ends[@]}" || failed=$((failed + 1))
fi
if ((${#sens[@]})); then
  echo "== sensitivity study: ${#sens[@]} archives"
  "$py" -m ranksweep_analysis.sensitivity "${sens[@]}" --csv "$out/sensitivity.csv" \
    --figures "$out/sensitivity" || failed=$((failed + 1))
fi
echo "reproduce: $n archives drawn into $out, $failed figure(s) failed"
((n > 0)) || { echo "reproduce: no recognised archive in $in" >&2; exit 1; }
((failed == 0))

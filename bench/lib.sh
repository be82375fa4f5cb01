# Shared by the benchmark scripts that launch sweeps (sourced): the MPI
# launcher as the array `launcher` (RANKSWEEP_MPIRUN or mpirun, allowed to run
# as root, oversubscription allowed), and the machine line every result starts with.
export OMPI_MCA_rmaps_base_oversubscribe=1
read -r -a launcher <<<"${RANKSWEEP_MPIRUN:-mpirun}"
[[ $(id -u) -eq 0 && ${launcher[0]} == mpirun ]] && launcher+=(--allow-run-as-root)

machine_line() {
  echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores," \
       "load $(cut -d' ' -f1-3 /proc/loadavg)"
}

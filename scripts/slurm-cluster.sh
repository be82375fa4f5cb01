#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, without systemd: munged, slurmctld and slurmd
# started by hand from a generated cgroup-free slurm.conf, every file under one state directory.
# Used by tests/slurm/ and for trying the batch templates in slurm/ before a real cluster.
#
# Usage: scripts/slurm-cluster.sh {start|stop|status} [STATE_DIR]
#   start   start munged (if no munged answers), slurmctld and slurmd; wait until the node is idle;
#           print `export SLURM_CONF=STATE_DIR/slurm.conf` on stdout (everything else goes to stderr),
#           so `eval "$(scripts/slurm-cluster.sh start)"` sets up the clients. Idempotent.
#   stop    cancel this cluster's jobs, stop slurmd and slurmctld by their pid files (and munged if
#           this script started it); wait for them to exit. Idempotent.
#   status  print sinfo and squeue; exit 1 if the cluster is not up.
# STATE_DIR defaults to /tmp/ranksweep-slurm. Environment knobs (all optional):
#   RANKSWEEP_SLURM_CPUS        CPUs declared for the node (default 8; more than this machine has, so
#                               3-5 task tests run on 2 cores: SlurmdParameters=config_overrides)
#   RANKSWEEP_SLURM_PORT        first port to try for slurmctld (default 6817; slurmd uses the next one;
#                               taken ports are skipped two at a time)
#   RANKSWEEP_SLURM_TIMEOUT     seconds to wait for each daemon (default 120: daemons start slowly on a
#                               loaded machine)
#   RANKSWEEP_SLURM_CRED_EXPIRE AuthInfo cred_expire, which is also how long a requeued job waits
#                               before it may start again (default 10; SLURM's own default is 120)
# Must run as root (munged is started as user munge; SlurmUser=root).
set -euo pipefail

usage() { echo "usage: $0 {start|stop|status} [STATE_DIR]" >&2; exit 2; }
die() { echo "slurm-cluster: error: $*" >&2; exit 1; }
say() { echo "slurm-cluster: $*" >&2; }

(($# >= 1 && $# <= 2)) || usage
action="$1"
state="${2:-/tmp/ranksweep-slurm}"
case "$action" in start|stop|status) ;; *) usage ;; esac
case "$state" in /*) ;; *) state="$(pwd)/$state" ;; esac

cpus="${RANKSWEEP_SLURM_CPUS:-8}"
first_port="${RANKSWEEP_SLURM_PORT:-6817}"
timeout="${RANKSWEEP_SLURM_TIMEOUT:-120}"
cred_expire="${RANKSWEEP_SLURM_CRED_EXPIRE:-10}"
for v in CPUS PORT TIMEOUT CRED_EXPIRE; do
  v="RANKSWEEP_SLURM_$v"
  [[ "${!v:-1}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done

conf="$state/slurm.conf"
ctld_pid="$state/run/slurmctld.pid"
slurmd_pid="$state/run/slurmd.pid"
ctld_log="$state/log/slurmctld.log"
slurmd_log="$state/log/slurmd.log"
munge_ours="$state/run/munged.ours"   # pid of a munged this script started, so stop may end it
munge_key=/etc/munge/munge.key
munge_log=/var/log/munge/munged.log
node="$(hostname -s)"

# pid from a pid file if that process is alive, else nothing.
live_pid() {
  local f="$1" p
  [[ -s "$f" ]] || return 1
  p="$(tr -dc 0-9 <"$f")"
  [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null && echo "$p"
}

# Last lines of a log, for error messages.
log_tail() {
  local f="$1"
  if [[ -s "$f" ]]; then
    echo "---- last lines of $f ----" >&2
    tail -n 25 "$f" >&2
    echo "----" >&2
  else
    echo "(no log at $f)" >&2
  fi
}

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

# A port is taken when something listens on it (ss from iproute2 if present, else a bash connect).
port_taken() {
  if command -v ss >/dev/null; then
    ss -Htln "sport = :$1" 2>/dev/null | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

node_state() { SLURM_CONF="$conf" sinfo -h -n "$node" -o %T 2>/dev/null | head -n 1; }

start_munge() {
  command -v munged >/dev/null || die "munged not found; install the munge package"
  if [[ ! -s "$munge_key" ]]; then
    say "creating $munge_key"
    install -d -o munge -g munge -m 0700 /etc/munge
    if command -v mungekey >/dev/null; then
      mungekey --create --keyfile="$munge_key"
    else
      dd if=/dev/urandom of="$munge_key" bs=1 count=1024 status=none
    fi
  fi
  # munged refuses a key that others can read or that it does not own.
  chown munge:munge "$munge_key"
  chmod 0400 "$munge_key"
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  if munge_works; then
    say "munged already answers; using it"
    return 0
  fi
  say "starting munged as user munge"
  local force=()
  # A socket left by a munged that died makes a new one refuse to start.
  [[ -S /run/munge/munge.socket.2 ]] && force=(--force)
  runuser -u munge -- munged "${force[@]}" </dev/null >>"$state/log/munged.out" 2>&1 \
    || { log_tail "$munge_log"; log_tail "$state/log/munged.out"; die "munged failed to start"; }
  local t
  for ((t = 0; t < timeout * 5; t++)); do
    munge_works && break
    sleep 0.2
  done
  munge_works || { log_tail "$munge_log"; die "munged did not answer within ${timeout}s"; }
  live_pid /run/munge/munged.pid >"$munge_ours" || true
}

write_conf() {
  local port="$first_port" tries=0
  while port_taken "$port" || port_taken $((port + 1)); do
    port=$((port + 2)); tries=$((tries + 1))
    ((tries < 50)) || die "no two free ports from $first_port to $port"
  done
  # Job ids unique per cluster: pmix keeps per-step directories named by job
  # id under /tmp, so two clusters both counting from 1 would collide.
  local first_job=$(( ((port - 6817) / 2 % 60) * 1000000 + $(date +%s) % 900000 + 1 ))
  cat >"$conf" <<EOF
# Generated by scripts/slurm-cluster.sh: single node, no cgroups, no slurmdbd.
ClusterName=ranksweep
FirstJobId=${first_job}
SlurmctldHost=${node}(127.0.0.1)
SlurmctldPort=${port}
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=${cred_expire}
StateSaveLocation=${state}/state
SlurmdSpoolDir=${state}/spool
SlurmctldPidFile=${ctld_pid}
SlurmdPidFile=${slurmd_pid}
SlurmctldLogFile=${ctld_log}
SlurmdLogFile=${slurmd_log}
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${state}/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
ReturnToService=2
KillWait=5
MinJobAge=600
SlurmdParameters=config_overrides
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN
PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP
EOF
  say "wrote $conf (slurmctld port $port, slurmd port $((port + 1)), node $node, CPUs=$cpus)"
}

# Waits until pid file $1 names a live process; on failure shows log $2 and dies with $3.
wait_daemon() {
  local pidf="$1" log="$2" name="$3" t
  for ((t = 0; t < timeout * 5; t++)); do
    live_pid "$pidf" >/dev/null && return 0
    sleep 0.2
  done
  log_tail "$log"
  die "$name did not start within ${timeout}s"
}

stop_pid() {
  local name="$1" p="$2" t
  say "stopping $name (pid $p)"
  kill -TERM "$p" 2>/dev/null || return 0
  for ((t = 0; t < timeout * 5; t++)); do
    kill -0 "$p" 2>/dev/null || return 0
    sleep 0.2
  done
  say "$name (pid $p) ignored SIGTERM for ${timeout}s; sending SIGKILL"
  kill -KILL "$p" 2>/dev/null || true
  sleep 0.5
}

do_stop() {
  local p t
  if live_pid "$ctld_pid" >/dev/null && [[ -f "$conf" ]]; then
    # slurmstepd outlives slurmd, so end the jobs first.
    if SLURM_CONF="$conf" timeout 10 scancel --user=root 2>/dev/null; then
      for ((t = 0; t < timeout; t++)); do
        [[ -z "$(SLURM_CONF="$conf" timeout 10 squeue -h -t R,CG -o %i 2>/dev/null)" ]] && break
        sleep 1
      done
    fi
  fi
  if p="$(live_pid "$slurmd_pid")"; then stop_pid slurmd "$p"; fi
  if p="$(live_pid "$ctld_pid")"; then stop_pid slurmctld "$p"; fi
  if [[ -s "$munge_ours" ]]; then
    local mine
    mine="$(tr -dc 0-9 <"$munge_ours")"
    if [[ -n "$mine" ]] && p="$(live_pid /run/munge/munged.pid)" && [[ "$p" == "$mine" ]]; then
      # Another cluster (another state directory) may be using the same munged.
      if ! command -v pgrep >/dev/null || pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
        say "leaving munged (pid $p) running: other slurm daemons still use it"
      else
        stop_pid munged "$p"
      fi
    fi
    rm -f "$munge_ours"
  fi
  rm -f "$ctld_pid" "$slurmd_pid"
}

do_start() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (munged, slurmctld and slurmd are started here)"
  local prog
  for prog in munge unmunge slurmctld slurmd sinfo runuser; do
    command -v "$prog" >/dev/null || die "$prog not found (packages: munge slurmctld slurmd slurm-client)"
  done
  mkdir -p "$state"/{state,spool,log,run}
  if live_pid "$ctld_pid" >/dev/null && live_pid "$slurmd_pid" >/dev/null \
     && munge_works && [[ "$(node_state)" =~ ^(idle|mixed|allocated) ]]; then
    say "already running ($conf)"
    echo "export SLURM_CONF=$conf"
    return 0
  fi
  # Half up (one daemon dead, or munged gone): start over cleanly.
  do_stop
  start_munge
  write_conf
  : >"$ctld_log"; : >"$slurmd_log"
  say "starting slurmctld"
  slurmctld -c -f "$conf" </dev/null >>"$state/log/slurmctld.out" 2>&1 \
    || { log_tail "$ctld_log"; log_tail "$state/log/slurmctld.out"; die "slurmctld failed to start"; }
  wait_daemon "$ctld_pid" "$ctld_log" slurmctld
  say "starting slurmd"
  slurmd -f "$conf" </dev/null >>"$state/log/slurmd.out" 2>&1 \
    || { log_tail "$slurmd_log"; log_tail "$state/log/slurmd.out"; die "slurmd failed to start"; }
  wait_daemon "$slurmd_pid" "$slurmd_log" slurmd
  local t s=""
  for ((t = 0; t < timeout * 2; t++)); do
    s="$(node_state)"
    [[ "$s" == idle ]] && break
    live_pid "$ctld_pid" >/dev/null || { log_tail "$ctld_log"; die "slurmctld died"; }
    live_pid "$slurmd_pid" >/dev/null || { log_tail "$slurmd_log"; die "slurmd died"; }
    sleep 0.5
  done
  if [[ "$s" != idle ]]; then
    log_tail "$ctld_log"; log_tail "$slurmd_log"
    die "node $node not idle within ${timeout}s (state: '${s:-no answer}')"
  fi
  say "node $node idle after ${t}x0.5s"
  echo "export SLURM_CONF=$conf"
}

do_status() {
  [[ -f "$conf" ]] || { say "no cluster configured in $state"; return 1; }
  local up=1
  live_pid "$ctld_pid" >/dev/null || { say "slurmctld not running"; up=0; }
  live_pid "$slurmd_pid" >/dev/null || { say "slurmd not running"; up=0; }
  ((up)) || return 1
  SLURM_CONF="$conf" sinfo
  SLURM_CONF="$conf" squeue
}

case "$action" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
esac

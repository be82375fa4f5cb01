#!/usr/bin/env bash
# A real SLURM cluster on this machine, without systemd: munged, slurmctld and one slurmd per node
# started by hand from a generated cgroup-free slurm.conf, every file under one state directory. With
# several nodes each node is a network and UTS namespace of its own (own hostname, own address on a
# private bridge, own /tmp), as real nodes are. Used by tests/slurm/ and for rehearsing the batch
# templates in slurm/ before a real cluster (docs/cluster.md).
#
# Usage: scripts/slurm-cluster.sh {start|stop|status} [STATE_DIR]
#   start   start munged (if no munged answers), slurmctld and slurmd; wait until the node is idle;
#           print `export SLURM_CONF=STATE_DIR/slurm.conf` on stdout (everything else goes to stderr),
#           so `eval "$(scripts/slurm-cluster.sh start)"` sets up the clients. Idempotent.
#   stop    cancel this cluster's jobs, stop slurmd and slurmctld by their pid files (and munged if
#           this script started it); wait for them to exit. Idempotent.
#   status  print sinfo and squeue; exit 1 if the cluster is not up.
# STATE_DIR defaults to /tmp/ranksweep-slurm. Environment knobs (all optional):
#   RANKSWEEP_SLURM_NODES       number of nodes, 1-4 (default 1: one slurmd in the host's own network,
#                               node name = this host's short name). With 2-4 the nodes are node1..nodeN,
#                               each in network namespace rs<K>-nodeI with address 10.213.<K>.I on
#                               bridge rsbr<K> (10.213.<K>.254, where slurmctld listens; K comes from
#                               the port, so clusters on other ports do not collide); STATE_DIR must
#                               then lie outside /tmp (each node mounts its own /tmp), and so must every
#                               file the jobs use. Nothing is routed beyond the bridge.
#   RANKSWEEP_SLURM_CPUS        CPUs declared per node (default 8; more than this machine has, so
#                               3-5 task tests run on 2 cores: SlurmdParameters=config_overrides)
#   RANKSWEEP_SLURM_PORT        first port to try for slurmctld (default 6817; slurmd uses the next one;
#                               taken ports are skipped two at a time)
#   RANKSWEEP_SLURM_TIMEOUT     seconds to wait for each daemon (default 120: daemons start slowly on a
#                               loaded machine)
#   RANKSWEEP_SLURM_CRED_EXPIRE AuthInfo cred_expire, which is also how long a requeued job waits
#                               before it may start again (default 10; SLURM's own default is 120)
#   RANKSWEEP_SLURM_DOWN_AFTER  SlurmdTimeout: seconds without an answer before slurmctld marks a node
#                               DOWN and ends its jobs (default 10 with several nodes; with one,
#                               SLURM's own default of 300)
# Also: `kill-node STATE_DIR NODE` (2-4 nodes) kills NODE as a power loss would: SIGKILL to its slurmd
# and to every process in its namespace, then waits until none is left. `stop` also ends a node's
# leftover processes, and removes the namespaces, links and bridge it created (listed in run/net).
# Must run as root (munged is started as user munge; SlurmUser=root).
set -euo pipefail

usage() { echo "usage: $0 {start|stop|status} [STATE_DIR] | $0 kill-node STATE_DIR NODE" >&2; exit 2; }
die() { echo "slurm-cluster: error: $*" >&2; exit 1; }
say() { echo "slurm-cluster: $*" >&2; }

(($# >= 1)) || usage
action="$1"
state="${2:-/tmp/ranksweep-slurm}"
case "$action" in
  start|stop|status) (($# <= 2)) || usage ;;
  kill-node) (($# == 3)) || usage ;;
  *) usage ;;
esac
case "$state" in /*) ;; *) state="$(pwd)/$state" ;; esac

cpus="${RANKSWEEP_SLURM_CPUS:-8}"
first_port="${RANKSWEEP_SLURM_PORT:-6817}"
timeout="${RANKSWEEP_SLURM_TIMEOUT:-120}"
cred_expire="${RANKSWEEP_SLURM_CRED_EXPIRE:-10}"
nnodes="${RANKSWEEP_SLURM_NODES:-1}"
# SlurmdTimeout: unset = SLURM's own default (300 s) on one node, 10 s with several (node failures).
down_after="${RANKSWEEP_SLURM_DOWN_AFTER:-}"
((nnodes == 1)) || down_after="${down_after:-10}"
for v in CPUS PORT TIMEOUT CRED_EXPIRE NODES DOWN_AFTER; do
  v="RANKSWEEP_SLURM_$v"
  [[ "${!v:-1}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done

((nnodes <= 4)) || die "RANKSWEEP_SLURM_NODES must be 1 to 4, got $nnodes"
if ((nnodes > 1)) && [[ "$action" == start ]]; then
  case "$state/" in
    /tmp/*) die "with RANKSWEEP_SLURM_NODES=$nnodes the state directory must lie outside /tmp (each node mounts its own /tmp): got $state" ;;
  esac
fi
conf="$state/slurm.conf"
ctld_pid="$state/run/slurmctld.pid"
slurmd_pid="$state/run/slurmd.pid"
ctld_log="$state/log/slurmctld.log"
slurmd_log="$state/log/slurmd.log"
net_file="$state/run/net"            # namespaces, links and bridge of a multi-node cluster, for stop
munge_ours="$state/run/munged.ours"   # pid of a munged this script started, so stop may end it
munge_key=/etc/munge/munge.key
munge_log=/var/log/munge/munged.log
node="$(hostname -s)"
# The node names: this host alone, or node1..nodeN (each in its own namespaces).
if ((nnodes == 1)); then
  nodes=("$node")
else
  nodes=()
  for ((i = 1; i <= nnodes; i++)); do nodes+=("node$i"); done
fi
# A node's slurmd pid file and log (SlurmdPidFile and SlurmdLogFile use %n with several nodes).
node_pidf() { if ((nnodes == 1)); then echo "$slurmd_pid"; else echo "$state/run/slurmd-$1.pid"; fi; }
node_log() { if ((nnodes == 1)); then echo "$slurmd_log"; else echo "$state/log/slurmd-$1.log"; fi; }

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
# How many of this cluster's nodes are idle.
nodes_idle() { SLURM_CONF="$conf" sinfo -h -N -o '%N %T' 2>/dev/null | grep -c ' idle$' || true; }

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
  local port="$first_port" tries=0 k taken
  # Ports: slurmctld's, then one per slurmd (their own, even in namespaces of their own).
  while :; do
    taken=0
    for ((k = 0; k <= nnodes; k++)); do port_taken $((port + k)) && taken=1; done
    ((taken)) || break
    port=$((port + nnodes + 1)); tries=$((tries + 1))
    ((tries < 50)) || die "no $((nnodes + 1)) free ports from $first_port to $port"
  done
  # Job ids unique per cluster: pmix keeps per-step directories named by job
  # id under /tmp, so two clusters both counting from 1 would collide.
  local first_job=$(( ((port - 6817) / 2 % 60) * 1000000 + $(date +%s) % 900000 + 1 ))
  local ctld_addr=127.0.0.1 nodelist="$node" pidfile="$slurmd_pid" logfile="$slurmd_log"
  local spool="$state/spool" what="single node"
  if ((nnodes > 1)); then
    net_k=$(( (port / 2) % 250 ))
    ctld_addr="10.213.$net_k.254"
    nodelist="node[1-$nnodes]"
    pidfile="$state/run/slurmd-%n.pid"
    logfile="$state/log/slurmd-%n.log"
    spool="$state/spool/%n"
    what="$nnodes nodes in network namespaces on bridge rsbr$net_k (10.213.$net_k.0/24)"
  fi
  cat >"$conf" <<EOF
# Generated by scripts/slurm-cluster.sh: ${what}, no cgroups, no slurmdbd.
ClusterName=ranksweep
FirstJobId=${first_job}
SlurmctldHost=${node}(${ctld_addr})
SlurmctldPort=${port}
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=${cred_expire}
StateSaveLocation=${state}/state
SlurmdSpoolDir=${spool}
SlurmctldPidFile=${ctld_pid}
SlurmdPidFile=${pidfile}
SlurmctldLogFile=${ctld_log}
SlurmdLogFile=${logfile}
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
EOF
  [[ -z "$down_after" ]] || echo "SlurmdTimeout=${down_after}" >>"$conf"
  if ((nnodes == 1)); then
    echo "NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN" >>"$conf"
  else
    local i
    for ((i = 1; i <= nnodes; i++)); do
      echo "NodeName=node$i NodeAddr=10.213.$net_k.$i NodeHostname=node$i Port=$((port + i)) CPUs=${cpus} State=UNKNOWN" >>"$conf"
    done
  fi
  echo "PartitionName=debug Nodes=${nodelist} Default=YES MaxTime=INFINITE State=UP" >>"$conf"
  say "wrote $conf (slurmctld port $port, $what, CPUs=$cpus per node)"
}

# The network of a multi-node cluster: bridge rsbrK on the host holding slurmctld's address, and per
# node a namespace rsK-nodeI whose eth0 (one end of a veth pair, the other end on the bridge) holds
# 10.213.K.I. Every name is written to run/net before it is created, so stop removes partial set-ups.
net_up() {
  local br="rsbr$net_k" i ns veth
  if ip -4 -o addr show | grep -q " 10\.213\.$net_k\."; then
    die "10.213.$net_k.0/24 is already in use on this host: stop the cluster that uses it first"
  fi
  ip link show "$br" >/dev/null 2>&1 && die "bridge $br exists already: stop the cluster that made it first"
  echo "bridge $br" >>"$net_file"
  ip link add "$br" type bridge || die "cannot create bridge $br (ip link add ... type bridge)"
  ip addr add "10.213.$net_k.254/24" dev "$br"
  ip link set "$br" up
  for ((i = 1; i <= nnodes; i++)); do
    ns="rs$net_k-node$i"
    veth="rs${net_k}v$i"
    [[ -e "/var/run/netns/$ns" ]] && die "network namespace $ns exists already: stop the cluster that made it first"
    echo "netns $ns" >>"$net_file"
    ip netns add "$ns" || die "cannot create network namespace $ns (ip netns add)"
    echo "link $veth" >>"$net_file"
    ip link add "$veth" type veth peer name eth0 netns "$ns" || die "cannot create veth pair $veth"
    ip link set "$veth" master "$br" up
    # nsenter, not `ip netns exec`: the latter remounts /sys, where slurmd then finds no cgroups.
    nsenter --net="/var/run/netns/$ns" sh -c \
      "ip link set lo up && ip addr add 10.213.$net_k.$i/24 dev eth0 && ip link set eth0 up" \
      || die "cannot configure eth0 in $ns"
  done
  say "network up: bridge $br 10.213.$net_k.254, nodes 10.213.$net_k.1-$nnodes"
}

# The processes whose network namespace is NS (slurmd, slurmstepd, the job's ranks).
ns_pids() { ip netns pids "$1" 2>/dev/null || true; }

# kill_ns NS SIGNAL: sends SIGNAL to everything in NS until nothing is left there (SIGKILL after 5 s).
kill_ns() {
  local ns="$1" sig="$2" pids t
  for ((t = 0; t < timeout * 5; t++)); do
    pids="$(ns_pids "$ns")"
    [[ -z "$pids" ]] && return 0
    # shellcheck disable=SC2086
    kill "-$sig" $pids 2>/dev/null || true
    sleep 0.2
    ((t < 25)) || sig=KILL
  done
  say "processes still in $ns after ${timeout}s: $(ns_pids "$ns" | tr '\n' ' ')"
  return 1
}

net_down() {
  [[ -s "$net_file" ]] || return 0
  local kind name rc=0
  # Processes first: a namespace that still holds processes outlives `ip netns delete`.
  while read -r kind name; do
    [[ "$kind" == netns && -e "/var/run/netns/$name" ]] || continue
    kill_ns "$name" TERM || rc=1
  done <"$net_file"
  while read -r kind name; do
    case "$kind" in
      netns) if [[ -e "/var/run/netns/$name" ]]; then ip netns delete "$name" || rc=1; fi ;;
      link) if ip link show "$name" >/dev/null 2>&1; then ip link delete "$name" || rc=1; fi ;;
    esac
  done <"$net_file"
  while read -r kind name; do
    [[ "$kind" == bridge ]] || continue
    if ip link show "$name" >/dev/null 2>&1; then ip link delete "$name" type bridge || rc=1; fi
  done <"$net_file"
  if ((rc == 0)); then
    rm -f "$net_file"
    say "network removed"
  else
    say "some of the network could not be removed (see $net_file)"
  fi
  return "$rc"
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

# The pid files of every slurmd this state directory may have started (whatever the node count now).
all_slurmd_pidfiles() {
  local f
  for f in "$slurmd_pid" "$state"/run/slurmd-*.pid; do [[ -e "$f" ]] && echo "$f"; done
  return 0
}

do_stop() {
  local p t f net_rc=0
  if live_pid "$ctld_pid" >/dev/null && [[ -f "$conf" ]]; then
    # slurmstepd outlives slurmd, so end the jobs first.
    if SLURM_CONF="$conf" timeout 10 scancel --user=root 2>/dev/null; then
      for ((t = 0; t < timeout; t++)); do
        [[ -z "$(SLURM_CONF="$conf" timeout 10 squeue -h -t R,CG -o %i 2>/dev/null)" ]] && break
        sleep 1
      done
    fi
  fi
  while read -r f; do
    if p="$(live_pid "$f")"; then stop_pid "slurmd ($(basename "$f" .pid))" "$p"; fi
    rm -f "$f"
  done < <(all_slurmd_pidfiles)
  net_down || net_rc=$?
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
  rm -f "$ctld_pid"
  return "$net_rc"
}

# start_slurmd NODE: one node's slurmd; with several nodes inside the node's own network namespace,
# with its own hostname and its own /tmp (pmix keeps per-step files there, named by job and step
# only, so nodes sharing one /tmp collide), in a private mount namespace so the host keeps its /tmp.
start_slurmd() {
  local n="$1"
  if ((nnodes == 1)); then
    slurmd -f "$conf" </dev/null >>"$state/log/slurmd.out" 2>&1 \
      || { log_tail "$slurmd_log"; log_tail "$state/log/slurmd.out"; die "slurmd failed to start"; }
    return 0
  fi
  local i="${n#node}" tmp="$state/nodes/$n/tmp" out="$state/log/slurmd-$n.out"
  mkdir -p "$tmp" "$state/spool/$n"
  chmod 1777 "$tmp"
  # shellcheck disable=SC2016
  nsenter --net="/var/run/netns/rs$net_k-node$i" \
    unshare --uts --mount --propagation private \
    sh -c 'mount --bind "$1" /tmp && hostname "$2" && exec slurmd -N "$2" -f "$3"' sh "$tmp" "$n" "$conf" \
    </dev/null >>"$out" 2>&1 \
    || { log_tail "$(node_log "$n")"; log_tail "$out"; die "slurmd of $n failed to start"; }
}

do_start() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (munged, slurmctld and slurmd are started here)"
  local prog n up
  for prog in munge unmunge slurmctld slurmd sinfo runuser; do
    command -v "$prog" >/dev/null || die "$prog not found (packages: munge slurmctld slurmd slurm-client)"
  done
  if ((nnodes > 1)); then
    for prog in ip nsenter unshare; do
      command -v "$prog" >/dev/null || die "$prog not found (packages: iproute2 util-linux), needed for $nnodes nodes"
    done
  fi
  mkdir -p "$state"/{state,spool,log,run}
  up=1
  for n in "${nodes[@]}"; do live_pid "$(node_pidf "$n")" >/dev/null || up=0; done
  if ((up)) && live_pid "$ctld_pid" >/dev/null && munge_works && [[ "$(nodes_idle)" == "$nnodes" ]] \
     && [[ "$(SLURM_CONF="$conf" sinfo -h -N -o %N 2>/dev/null | sort -u | wc -l)" == "$nnodes" ]]; then
    say "already running ($conf)"
    echo "export SLURM_CONF=$conf"
    return 0
  fi
  # Half up (one daemon dead, or munged gone): start over cleanly.
  do_stop || die "could not clean up what an earlier cluster in $state left"
  start_munge
  write_conf
  ((nnodes == 1)) || net_up
  : >"$ctld_log"
  for n in "${nodes[@]}"; do : >"$(node_log "$n")"; done
  say "starting slurmctld"
  slurmctld -c -f "$conf" </dev/null >>"$state/log/slurmctld.out" 2>&1 \
    || { log_tail "$ctld_log"; log_tail "$state/log/slurmctld.out"; die "slurmctld failed to start"; }
  wait_daemon "$ctld_pid" "$ctld_log" slurmctld
  for n in "${nodes[@]}"; do
    say "starting slurmd for $n"
    start_slurmd "$n"
    wait_daemon "$(node_pidf "$n")" "$(node_log "$n")" "slurmd of $n"
  done
  local t idle=0
  for ((t = 0; t < timeout * 2; t++)); do
    idle="$(nodes_idle)"
    [[ "$idle" == "$nnodes" ]] && break
    live_pid "$ctld_pid" >/dev/null || { log_tail "$ctld_log"; die "slurmctld died"; }
    for n in "${nodes[@]}"; do
      live_pid "$(node_pidf "$n")" >/dev/null || { log_tail "$(node_log "$n")"; die "slurmd of $n died"; }
    done
    sleep 0.5
  done
  if [[ "$idle" != "$nnodes" ]]; then
    log_tail "$ctld_log"
    for n in "${nodes[@]}"; do log_tail "$(node_log "$n")"; done
    die "$idle of $nnodes node(s) idle within ${timeout}s: $(SLURM_CONF="$conf" sinfo -h -N -o '%N %T' 2>/dev/null | tr '\n' ' ')"
  fi
  say "${nnodes} node(s) idle (${nodes[*]}) after ${t}x0.5s"
  echo "export SLURM_CONF=$conf"
}

do_status() {
  [[ -f "$conf" ]] || { say "no cluster configured in $state"; return 1; }
  local up=1 n
  live_pid "$ctld_pid" >/dev/null || { say "slurmctld not running"; up=0; }
  for n in "${nodes[@]}"; do
    live_pid "$(node_pidf "$n")" >/dev/null || { say "slurmd of $n not running"; up=0; }
  done
  ((up)) || return 1
  SLURM_CONF="$conf" sinfo
  SLURM_CONF="$conf" squeue
}

# A power loss on one node: SIGKILL to its slurmd and to every process in its network namespace
# (its slurmstepds and the job's processes there), until the namespace is empty. slurmctld learns
# of it only from the missing answers (SlurmdTimeout), as on a real cluster.
do_kill_node() {
  local n="$1" ns
  [[ -s "$net_file" ]] || die "no multi-node cluster in $state (no $net_file)"
  ns="$(awk -v n="-$n" '$1 == "netns" && substr($2, length($2) - length(n) + 1) == n {print $2}' "$net_file")"
  [[ -n "$ns" ]] || die "no node '$n' in $state ($(grep '^netns' "$net_file" | tr '\n' ' '))"
  kill_ns "$ns" KILL || die "could not empty $ns"
  say "node $n killed (every process in $ns)"
}

case "$action" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  kill-node) do_kill_node "$3" ;;
esac

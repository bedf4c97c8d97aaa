#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try digitrec's cluster path (hydra/launcher=slurm,
# preemption, requeue) without a cluster. Needs root and Debian's slurmctld, slurmd and munge:
#   apt-get install -y slurmctld slurmd slurm-client munge
#
#   scripts/local_slurm.sh start [DIR]   # start munged, slurmctld and slurmd; state under DIR
#   export SLURM_CONF=DIR/slurm.conf     # (printed by start) for sbatch, squeue, digitrec-train
#   scripts/local_slurm.sh stop DIR      # stop the daemons (DIR is kept: logs, state)
#
# The node is this host with its cores and memory, in one partition `debug` (default, no time
# limit), JobRequeue=1, no accounting (sacct answers nothing) and a 5 s KillWait. Ports:
# SLURMCTLD_PORT (default 6817) and SLURMD_PORT (6818).
set -euo pipefail

usage() {
    echo "usage: $0 start [DIR] | stop DIR" >&2
    exit 2
}

fail() {
    echo "error: $*" >&2
    exit 1
}

start() {
    local dir=${1:-$(mktemp -d -t digitrec-slurm.XXXXXX)}
    [[ $(id -u) -eq 0 ]] || fail "the local cluster runs its daemons as root (run as root)"
    for tool in munged slurmctld slurmd sbatch scontrol; do
        command -v "$tool" >/dev/null ||
            fail "$tool not found: apt-get install -y slurmctld slurmd slurm-client munge"
    done
    local port
    for port in "${SLURMCTLD_PORT:-6817}" "${SLURMD_PORT:-6818}"; do
        ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null ||
            fail "port $port is in use (another SLURM daemon?): choose others with SLURMCTLD_PORT and SLURMD_PORT"
    done
    mkdir -p "$dir"/{state,spool,munge}
    dir=$(cd "$dir" && pwd)
    chmod 700 "$dir/munge"
    local host node
    host=$(hostname -s)
    # the node as slurmd sees it (CPUs, sockets, cores, memory), less its uptime line
    node=$(slurmd -C | head -n 1)
    [[ $node == NodeName=* ]] || fail "slurmd -C did not describe this node: $node"

    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 600 "$dir/munge/munge.key"
    # from here on a failure stops what was started
    trap 'stop "$dir"' EXIT
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed"

    cat >"$dir/slurm.conf" <<EOF
ClusterName=digitrec-local
SlurmctldHost=$host
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobRequeue=1
KillWait=5
MinJobAge=600
InactiveLimit=0
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF"
    # the node registers within seconds; then it takes jobs
    local state=""
    for _ in $(seq 60); do
        state=$(sinfo -h -N -o %t 2>/dev/null | head -n 1 || true)
        [[ $state == idle* || $state == mix* || $state == alloc* ]] && break
        sleep 0.5
    done
    [[ $state == idle* || $state == mix* || $state == alloc* ]] ||
        fail "the node did not come up (state '${state:-none}'): see $dir/slurmctld.log and $dir/slurmd.log"
    trap - EXIT
    echo "export SLURM_CONF=$SLURM_CONF"
}

stop() {
    local dir=${1:-}
    [[ -n $dir ]] || usage
    [[ -f $dir/munge/munge.key ]] || fail "$dir holds no local cluster (no munge/munge.key)"
    local pidfile pid
    for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
        [[ -f $pidfile ]] || continue
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
}

case ${1:-} in
start) start "${2:-}" ;;
stop) stop "${2:-}" ;;
*) usage ;;
esac

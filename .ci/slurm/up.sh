#!/usr/bin/env bash
# Start a one-node SLURM on this machine for CI: install Debian's slurm-wlm and munge if they
# are missing, write a slurm.conf for this machine's CPUs and memory (no cgroups, no
# accounting database), start munged, slurmctld and slurmd, and wait until the node is idle.
# Runs as root. Stop everything again with .ci/slurm/down.sh.
#
# Environment:
#   SLURM_CI_STATE   folder for pid files, daemon logs and spool (default /tmp/darts-bohb-slurm)
#   SLURM_CI_WAIT_S  how long to wait for the node to become idle (default 90)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=.ci/slurm/paths.sh
source "$here/paths.sh"

log() { printf '[slurm-up %s] %s\n' "$(date +%T)" "$*"; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        log "slurm-wlm and munge already installed"
        return
    fi
    log "installing slurm-wlm and munge from Debian"
    local started=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    # The packages' maintainer scripts try to start services; there is no init system here,
    # so forbid that and start the daemons ourselves below.
    local policy=/usr/sbin/policy-rc.d had_policy=false
    [[ -e $policy ]] && had_policy=true
    if ! $had_policy; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
    $had_policy || rm -f "$policy"
    log "installed in $((SECONDS - started)) s: $(slurmctld -V)"
}

write_munge_key() {
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        install -d -o munge -g munge -m 0700 /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
}

write_slurm_conf() {
    local host cpus memory_mb
    host=$(hostname -s)
    cpus=$(nproc)
    # What slurmd itself measures, so the node is never drained for "low RealMemory".
    memory_mb=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    if [[ -e $SLURM_CONF_FILE ]] && ! grep -q "$CONF_MARKER" "$SLURM_CONF_FILE"; then
        echo "error: $SLURM_CONF_FILE exists and was not written by $0; refusing to replace it" >&2
        exit 1
    fi
    install -d "$(dirname "$SLURM_CONF_FILE")"
    cat >"$SLURM_CONF_FILE" <<EOF
# $CONF_MARKER: a one-node test cluster; do not use elsewhere.
ClusterName=ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$SLURMCTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$STATE_DIR/slurmctld.log
SlurmdLogFile=$STATE_DIR/slurmd.log
# No cgroups: processes are tracked through /proc and tasks are not confined.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# CPUs and memory are what jobs ask for; each logical CPU is one allocatable unit.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# squeue keeps finished jobs this long; the Snakemake plugin reads their state through it.
MinJobAge=600
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    log "wrote $SLURM_CONF_FILE: node $host, $cpus CPUs, $memory_mb MB"
}

start_daemons() {
    local pid_file
    for pid_file in "$MUNGED_PID" "$SLURMCTLD_PID" "$SLURMD_PID"; do
        if [[ -s $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
            echo "error: $(basename "$pid_file" .pid) is already running; stop it with $here/down.sh" >&2
            exit 1
        fi
    done
    rm -rf "$STATE_DIR"
    install -d "$STATE_DIR/slurmctld" "$STATE_DIR/slurmd"
    install -d -o munge -g munge -m 0700 "$MUNGE_DIR"
    install -d -o munge -g munge -m 0755 /run/munge
    runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGED_PID"
    munge -n | unmunge >/dev/null
    log "munged running (pid $(cat "$MUNGED_PID"))"
    slurmctld -c
    slurmd
    log "slurmctld and slurmd started"
}

wait_for_idle_node() {
    local deadline=$((SECONDS + ${SLURM_CI_WAIT_S:-90})) state=""
    while ((SECONDS < deadline)); do
        state=$(sinfo --noheader --Node --format=%t 2>/dev/null | head -n 1 || true)
        case $state in
        idle) log "node idle: $(sinfo --noheader --Node --format='%N %c CPUs %m MB %P')"; return ;;
        down* | drain* | fail*)
            scontrol update NodeName="$(hostname -s)" State=RESUME 2>/dev/null || true ;;
        esac
        sleep 1
    done
    echo "error: the SLURM node is '${state:-unreachable}', not idle, after ${SLURM_CI_WAIT_S:-90} s;" \
        "daemon logs are in $STATE_DIR" >&2
    tail -n 20 "$STATE_DIR"/*.log >&2 || true
    exit 1
}

install_packages
write_munge_key
write_slurm_conf
start_daemons
wait_for_idle_node

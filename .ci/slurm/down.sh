#!/usr/bin/env bash
# Stop the CI SLURM started by up.sh: cancel what is left in its queue, then stop slurmd,
# slurmctld and munged by their pid files (TERM, then KILL after 15 s). Safe to run twice.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=.ci/slurm/paths.sh
source "$here/paths.sh"

log() { printf '[slurm-down %s] %s\n' "$(date +%T)" "$*"; }

stop_by_pid_file() {
    local name=$1 pid_file=$2 pid
    if [[ ! -s $pid_file ]]; then
        log "$name: no pid file ($pid_file)"
        return
    fi
    pid=$(cat "$pid_file")
    if ! kill -0 "$pid" 2>/dev/null; then
        log "$name: pid $pid is not running"
        rm -f "$pid_file"
        return
    fi
    kill -TERM "$pid"
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name: pid $pid ignored TERM for 15 s; killing it"
        kill -KILL "$pid"
    fi
    rm -f "$pid_file"
    log "$name stopped (pid $pid)"
}

if [[ -s $SLURMCTLD_PID ]] && command -v squeue >/dev/null; then
    # Jobs outlive slurmd (their slurmstepd keeps running), so end them first.
    scancel --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 20); do
        [[ -z $(squeue --noheader --states=PENDING,RUNNING,COMPLETING 2>/dev/null) ]] && break
        sleep 0.5
    done
fi
stop_by_pid_file slurmd "$SLURMD_PID"
stop_by_pid_file slurmctld "$SLURMCTLD_PID"
stop_by_pid_file munged "$MUNGED_PID"

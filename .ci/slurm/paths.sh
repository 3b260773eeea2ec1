# Where the CI SLURM keeps its configuration, pid files, logs and spool; sourced by up.sh and
# down.sh so both agree.
STATE_DIR=${SLURM_CI_STATE:-/tmp/darts-bohb-slurm}
SLURM_CONF_FILE=/etc/slurm/slurm.conf
CONF_MARKER="written by darts-bohb .ci/slurm/up.sh"
# munged runs as the munge user, so its pid file lives in a folder that user owns.
MUNGE_DIR=$STATE_DIR/munge
MUNGED_PID=$MUNGE_DIR/munged.pid
SLURMCTLD_PID=$STATE_DIR/slurmctld.pid
SLURMD_PID=$STATE_DIR/slurmd.pid

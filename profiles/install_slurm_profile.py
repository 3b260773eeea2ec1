"""Install the shipped SLURM profile (profiles/slurm) as a named Snakemake profile, with your
site's values, so that `snakemake --profile slurm` works as typed from the repository root.

    python profiles/install_slurm_profile.py --partition cpu [--gpu-partition gpu] [--account me]

Snakemake looks a profile name up in the current folder, then in the user's and the system's
profile folders; this writes the user's (`~/.config/snakemake/slurm/` on Linux, or under
$XDG_CONFIG_HOME). The values become the profile's defaults; the DARTS_BOHB_SLURM_* variables
still override them per run (see the profile's header). An existing, different profile of the
same name is left alone unless --force is given.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "slurm" / "config.yaml"
SITE_LINE = re.compile(r"^(?P<indent>\s*)SITE = dict\(.*\)$", re.MULTILINE)


def user_profile_folder() -> Path:
    """The user's profile folder, as Snakemake itself finds it."""
    from snakemake.common import get_appdirs

    return Path(get_appdirs().user_config_dir)


def profile_text(partition: str | None, gpu_partition: str | None, account: str | None,
                 status_command: str | None) -> str:
    """The shipped profile with the site values written into its SITE line."""
    text = SHIPPED.read_text()
    values = dict(partition=partition, gpu_partition=gpu_partition, account=account, status_command=status_command)
    site = "SITE = dict(" + ", ".join(f"{key}={value!r}" for key, value in values.items()) + ")"
    new_text, count = SITE_LINE.subn(lambda match: match["indent"] + site, text)
    if count != 1:
        raise SystemExit(f"error: {SHIPPED} has no single 'SITE = dict(...)' line to fill in")
    return new_text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partition", help="partition of every job (default: the cluster's default partition)")
    parser.add_argument("--gpu-partition", help="partition of the training jobs, for runtime.device: cuda")
    parser.add_argument("--account", help="account to charge the jobs to, if the site needs one")
    parser.add_argument("--status-command", choices=("sacct", "squeue"),
                        help="squeue where the cluster has no accounting database (default: sacct if installed)")
    parser.add_argument("--name", default="slurm", help="profile name, as given to --profile (default: slurm)")
    parser.add_argument("--folder", type=Path, help="profile folder (default: the user's Snakemake profile folder)")
    parser.add_argument("--force", action="store_true", help="replace an existing profile of that name")
    args = parser.parse_args()

    target = (args.folder or user_profile_folder()) / args.name / "config.yaml"
    text = profile_text(args.partition, args.gpu_partition, args.account, args.status_command)
    if target.exists() and target.read_text() != text and not args.force:
        print(f"error: {target} exists and differs; give --force to replace it", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.tmp")
    partial.write_text(text)
    partial.replace(target)
    print(f"installed {target}; run `snakemake --profile {args.name}` from the repository root")
    return 0


if __name__ == "__main__":
    sys.exit(main())

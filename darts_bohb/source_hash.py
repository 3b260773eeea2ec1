"""A hash of the package's own source, part of every resumable state's fingerprint.

Snakemake runs the scripts through `shell:`, so it never notices that darts_bohb/*.py changed;
a half-done search or SMAC run saved by other code must not be continued by the new code.
Only the top-level modules count: the report subpackage never shapes a search or a trial, and
a change to a figure should not throw away hours of BOHB.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path


def source_sha256(package_dir: Path) -> str:
    digest = hashlib.sha256()
    for module in sorted(package_dir.glob("*.py")):
        digest.update(module.name.encode())
        digest.update(b"\0")
        digest.update(module.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


@functools.cache
def package_source_sha256() -> str:
    return source_sha256(Path(__file__).resolve().parent)

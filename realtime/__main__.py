"""``python -m realtime``: the same command as ``realtime``."""
from realtime.cli import entry

raise SystemExit(entry())

"""``python -m realtime.batch INPUTS... --out DIR``: the same command as ``realtime batch``."""
import sys

from realtime.batch.cli import batch_main
from realtime.errors import run_cli

raise SystemExit(run_cli(lambda: batch_main(sys.argv[1:])))

from export.cli import entry

raise SystemExit(entry())

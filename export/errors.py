from realtime.errors import UserError, run_cli  # noqa: F401  (moved; removed once every import is updated)

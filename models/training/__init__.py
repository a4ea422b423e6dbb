"""Training: what every trainer shares (Adam, cosine schedule, progress bar, resumable atomic
checkpoints, a save on Ctrl-C). May import models.networks and realtime."""

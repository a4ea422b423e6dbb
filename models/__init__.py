"""PyTorch networks, losses, teachers and training CLIs (needs the ``train`` extra)."""

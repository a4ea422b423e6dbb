"""Data: the shared photos and videos, training pairs (teacher on the fly or a folder) and aligned
face crops. May import only realtime."""

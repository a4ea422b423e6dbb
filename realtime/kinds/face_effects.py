"""Face effects without a network: big eyes and props that follow the face."""
from __future__ import annotations

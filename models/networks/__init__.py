"""Networks: FilterClone's UNet, Johnson's TransformerNet, the guided-upsampling student, how
each is called and the one checkpoint format. May import only realtime.

Each network registers its architecture by name (:mod:`models.networks.registry`); importing
the room registers them all, so a checkpoint of any of them loads.
"""
from models.networks import guided, transformer_net, unet  # noqa: F401  (they register themselves)

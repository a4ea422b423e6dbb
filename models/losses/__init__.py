"""Losses and quality measures: perceptual and Gram style losses (VGG16 or offline random
features), SSIM and the clone ratio. May import models.networks and realtime."""

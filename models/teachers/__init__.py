"""Teachers: the classical filters a network clones (cartoon, sketch, oil, watercolor, aged) and
the style images the project makes itself. May import models.data and realtime."""

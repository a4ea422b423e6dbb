"""Compositing: what is drawn with the person's mask (background blur, replace, remove) and the
temporal stabiliser that holds still pixels still. May import only the base modules."""

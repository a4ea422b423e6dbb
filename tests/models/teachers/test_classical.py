"""The classical teachers' style definitions: which styles are grey (the monochrome codes)."""
from __future__ import annotations

from models.teachers.classical import SKETCH_STYLES, STYLED_TEACHERS, monochrome_codes, sketch
from tests.conftest import synthetic_photo


def test_the_sketch_teachers_grey_styles_are_its_monochrome_codes():
    codes = {name: k for k, name in enumerate(SKETCH_STYLES)}
    assert monochrome_codes("sketch", codes) == (codes["graphite"], codes["charcoal"]) == (0, 1)
    img = synthetic_photo(96, 128, seed=0)
    for name, style in SKETCH_STYLES.items():
        out = sketch(img, style).astype(int)
        spread = int((out.max(axis=2) - out.min(axis=2)).max())
        assert (spread == 0) == style.monochrome, f"{name}: channel spread {spread}"


def test_no_other_teacher_style_is_monochrome():
    for teacher, (_, styles) in STYLED_TEACHERS.items():
        if teacher != "sketch":
            assert monochrome_codes(teacher, {name: k for k, name in enumerate(styles)}) == ()
    assert monochrome_codes(None, {"graphite": 0}) == () and monochrome_codes("sketch", {}) == ()

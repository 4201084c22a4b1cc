"""Paper figures, each drawn from saved results files (never from numbers typed by hand).

One module per figure; each exposes ``draw(inputs..., out_stem) -> list[Path]`` writing PNG and PDF.
``paper_figures/make_all.py`` regenerates all of them from a demo run directory.
"""

"""The model specs ``load_model`` accepts (here, free of torch, for configs and ``--help``)."""

SPEC_HELP = (
    "lit-mini (offline default, general-domain base), lit-mini@scratch (random projections), "
    "open_clip:ARCH@TAG, open_clip:ARCH@/path/ckpt.pt, hf:ID_OR_DIR, "
    "a directory saved by ClipModel.save (RUN/export), or a training run directory (its export/)"
)

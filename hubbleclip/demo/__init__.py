"""The main job end to end (``hubbleclip demo`` / ``make demo``): build the skyset, caption a
sample with the shipped LLM, fine-tune lit-mini, compare base vs fine-tuned, build and evaluate
the object search engine, run similarity queries, then draw the paper figures and REPORT.md.

Each stage writes into ``OUT/<stage>/`` and is skipped when already done (``--overwrite STAGE`` redoes it).
"""

from hubbleclip.demo.config import STAGE_NAMES, DemoConfig
from hubbleclip.lazy import lazy_attributes

__all__ = ["STAGE_NAMES", "DemoConfig", "run_demo"]
__getattr__ = lazy_attributes(__name__, {"run_demo": "stages"})

"""Offline text engine for residents' messages (no Django, no database).

* :mod:`.normalize` — width folding, traditional → simplified, boilerplate stripping
* :mod:`.features` — jieba words + character n-grams
* :mod:`.classifier` — category suggestion with confidence (``train``, ``CategoryModel.suggest``, ``evaluate``)
* :mod:`.places` — place/site keys (estates, roads, rivers, schools …)
* :mod:`.similar` — same-problem pairs and groups (``find_pairs``, ``find_groups``)
* :mod:`.io` — csv/xlsx reading with header aliases and encoding detection
* :mod:`.cli` — ``evaluate`` and ``similar`` commands
"""

from .classifier import CategoryModel, EvalReport, Example, Suggestions, TrainConfig, evaluate, train
from .normalize import normalize
from .similar import find_groups, find_pairs

__all__ = [
    "CategoryModel",
    "EvalReport",
    "Example",
    "Suggestions",
    "TrainConfig",
    "evaluate",
    "find_groups",
    "find_pairs",
    "normalize",
    "train",
]

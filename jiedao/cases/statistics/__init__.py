"""Case statistics: the rollup tables kept on write and the rates, rankings and trends read
from them (never by scanning cases)."""

"""The project's settings plus the benchmark's reference endpoints (bench.urls).

Only bench/intake.py and bench/intake_profile.py run with it (DJANGO_SETTINGS_MODULE=bench.settings,
the project root on PYTHONPATH): `jiedao serve` and the production settings never serve them.
"""

from jiedao.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

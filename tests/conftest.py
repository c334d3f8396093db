"""Shared pytest set-up: hypothesis profiles (a light one by default, a deep one on demand)."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile(
    "deep", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("deep" if os.environ.get("ENGAGE_WEB_DEEP") == "1" else "ci")

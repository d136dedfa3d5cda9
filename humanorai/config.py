"""Settings read once from ``HUMANORAI_*`` environment variables; every default lives here."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "HUMANORAI_"


@dataclass(frozen=True)
class Settings:
    #: Bundle folder used when a command is given none (``HUMANORAI_BUNDLE``).
    bundle: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        bundle = environ.get(f"{ENV_PREFIX}BUNDLE")
        return cls(bundle=Path(bundle) if bundle else None)

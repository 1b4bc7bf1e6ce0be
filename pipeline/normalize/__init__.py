"""Parsers: raw envelope -> ECS event. One small class per format, registered by name.

Every module of this package is imported here so that its registry calls run: whoever imports
the package sees every parser, body format and program enricher.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

"""Kili webhook server: authenticate, parse, commit to the journal, check labels with a RuleSet.

``create_app(rules, ...)`` returns a FastAPI app; ``serve(rules_path, ...)`` runs it under
uvicorn with connection limits (``kili-rules serve``). An event is answered (202) once it is
committed to the journal; workers then check it through ``kili_rules.kili``, the only code
that calls the Kili API, retrying Kili failures and dead-lettering what keeps failing.
"""

from __future__ import annotations

from .app import create_app
from .server import serve
from .workers import RetryPolicy

__all__ = ["RetryPolicy", "create_app", "serve"]

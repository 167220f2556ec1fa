"""Compatibility path: the plugin shim lives in :mod:`kili_rules.kili.plugin`.

``from kili_rules.plugin import RulesPlugin`` (the webhook tutorial's import) keeps working.
"""

from kili_rules.kili.plugin import (
    INVALID_LABEL_PREFIX,
    Decision,
    RulesPlugin,
    handle_label,
    register_webhook,
)

__all__ = ["INVALID_LABEL_PREFIX", "Decision", "RulesPlugin", "handle_label", "register_webhook"]

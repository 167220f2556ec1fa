"""The only part of kili-rules that calls the Kili API.

- ``kili_rules.kili.plugin``: ``RulesPlugin`` (a ``kili.plugins.PluginCore``), ``handle_label``
  (the whole flow for one label: fetch if needed, validate, decide, act) and
  ``register_webhook``.
- ``kili_rules.kili.effects``: ``act``, the one implementation of a verdict's effects (issues
  with reconciliation, QA metadata, send-back, review, workflow-v2 moves), step by step so a
  retry resumes after the last completed step; used by the plugin, the webhook workers and
  ``Report.apply``.
- ``kili_rules.kili.apply``: the bulk form of ``act`` behind ``Report.apply``.
- ``kili_rules.kili.project``: ``RuleSet.validate_project``: concurrent paging of a project's
  assets, jsonResponse strings handed to the native core.

Nothing here is imported eagerly: ``kili_rules`` registers ``RuleSet.validate_project`` and
``Report.apply`` as delegations that import ``project`` and ``apply`` on their first call;
importing ``kili_rules`` never imports the Kili SDK.
"""

"""The tutorial's PluginHandler, with its checks written as rules (see rules.toml)."""

from pathlib import Path

from kili_rules import RuleSet
from kili_rules.plugin import RulesPlugin


class PluginHandler(RulesPlugin):
    rules = RuleSet.from_file(Path(__file__).with_name("rules.toml"))

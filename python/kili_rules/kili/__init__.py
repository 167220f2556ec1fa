"""The only code of kili-rules that calls the Kili API (plugin, effects, project paging)."""

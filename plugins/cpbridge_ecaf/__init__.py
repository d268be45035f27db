"""cpbridge plugin for ecaf (under construction)."""

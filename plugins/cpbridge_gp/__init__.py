"""cpbridge plugin for gp (under construction)."""

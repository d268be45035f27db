"""cpbridge plugin for school (under construction)."""

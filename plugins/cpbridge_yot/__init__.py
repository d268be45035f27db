"""cpbridge plugin for yot (under construction)."""

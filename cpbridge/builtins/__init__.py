"""Built-in plugins: features of cpbridge that use the same hooks as any plugin."""

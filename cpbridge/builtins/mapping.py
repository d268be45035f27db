"""Built-in plugin: drive every local system's messages through its mapping file."""

"""The adapter: receives local systems' messages, keeps them in its outbox, delivers them."""

"""Rules shared on purpose: the gateway calls them for an early 422, the owning service for
the final word. Pure: no I/O, imports only contracts and each other."""

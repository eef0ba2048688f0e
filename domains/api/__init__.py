"""The integrator REST API's shared parts (tokens, permissions, errors) and its
domain, inventory and hook resources. Callbacks' resources live in callbacks.api;
settings.REST_FRAMEWORK wires these parts in so no app imports another's API.
"""

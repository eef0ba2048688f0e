"""The shared REST API plumbing under every app's api/ package: token authentication,
permissions, the strict JSON parser, the error answer, throttles, pagination, the batch answer,
the schema's fields and hooks, and the viewset bases.

settings.REST_FRAMEWORK wires these parts in; no app imports another app's api.
"""

"""A local stand-in for Kubernetes: an in-memory API server, its controllers and (later) a node agent.

Nothing here imports `rayservice`: this package plays the role of Kubernetes and must not share the
operator's bugs.
"""

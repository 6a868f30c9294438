"""Storage and REST semantics of the local API server: the versioned in-memory store, object helpers, create,
get, list, update, patch and delete as kube-apiserver does them, field owners, label and field selectors.
It never imports the HTTP layer.
"""

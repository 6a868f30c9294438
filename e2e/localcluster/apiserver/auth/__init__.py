"""Authentication and authorization of API requests, as kube-apiserver does them (TLS, tokens, RBAC)."""

"""Tenants of the shared platform: names, the registry in the shared catalog, provisioning."""

"""Application errors, mapped to HTTP statuses by the API."""


class NotFound(Exception):
    """404: missing, or belongs to someone else."""


class Unauthorised(Exception):
    """401: no key, or a wrong one."""


class Conflict(Exception):
    """409: the same Idempotency-Key with another body."""

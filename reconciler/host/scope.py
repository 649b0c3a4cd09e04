"""The history scope of a host: ``host:<connector host>``.

Host passes share the ``runs`` and ``findings`` tables with backend passes;
their ``backend`` column holds this name. Backend names never contain ``:``
in practice, and the host unit refuses to run beside one that starts with
the prefix, so the two kinds of scope never meet.
"""

PREFIX = 'host:'


def name(host):
    return PREFIX + host


def host_of(scope):
    """The host of a host scope, None for a backend name."""
    return scope[len(PREFIX):] if scope.startswith(PREFIX) else None

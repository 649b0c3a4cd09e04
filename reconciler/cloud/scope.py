"""The history scope of the cloud passes: ``cloud``.

Cloud passes share the ``runs`` and ``findings`` tables (and the
coordination locks) with backend and host passes; their ``backend`` column
holds this name. The daemon refuses a backend group of that name while the
cloud scope is enabled, so the two never meet.
"""

NAME = 'cloud'

"""WSGI entry points, for servers that import a module's ``application``
(uWSGI ``--module``, mod_wsgi ``WSGIScriptAlias``, gunicorn).

Entry points like ``reconciler.cmd``: importing this package selects
oslo.service's threading backend (oslo.messaging imports oslo.service)
before anything could fall back to eventlet.
"""

from reconciler import cmd  # noqa: F401

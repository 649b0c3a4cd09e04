"""The REST API (cinder-reconciler-api): the history, read and acted on
with a Keystone token.

A WSGI application in a paste.deploy pipeline (etc/cinder-reconciler/
api-paste.ini): oslo.middleware (CORS, proxy headers, request ids,
/healthcheck), keystonemiddleware's auth_token, microversions with
microversion-parse, oslo.policy rules with defaults in code. The handlers
are plain WebOb functions dispatched by Routes, the way Placement is built:
the smallest stack that OpenStack's own services use, with no framework
of its own to learn.
"""

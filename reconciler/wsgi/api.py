"""``reconciler.wsgi.api:application``: the REST API for a WSGI server.

Configuration files come from ``OS_CINDER_RECONCILER_API_CONFIG_FILES``
(';'-separated), else /etc/cinder-reconciler/cinder-reconciler-api.conf.
This module replaces pbr's generated ``wsgi_scripts``, which OpenStack's
services dropped (pbr is removing them): the server imports it directly.
"""

from reconciler.api import deploy

application = deploy.init_application()

"""Client of the cinder-reconciler REST API, and its ``openstack`` plugin.

Its own package, importing nothing of the service (``reconciler``): it
needs only keystoneauth1, and osc-lib for the plugin (both come with
python-openstackclient), so it can move to a python-reconcilerclient
repository as it is. It ships in the cinder-reconciler wheel today, and
its ``openstack.cli.extension`` entry point is active wherever
python-openstackclient is installed beside it.
"""

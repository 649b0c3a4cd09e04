"""The ``openstack orphan ...`` commands (python-openstackclient plugin)."""

"""Versioned RPC between the controller, its agents and the API.

The shape of Nova's and Cinder's RPC: oslo.messaging over the transport of
``[DEFAULT] transport_url`` (the RPC transport, separate from the
notification transport of ``[oslo_messaging_notifications]``), one
``Target`` per API with a namespace and a version, a client per API whose
version is capped by ``[upgrade_levels]`` for rolling upgrades, and
payloads as plain, versioned dicts of JSON types.

- :mod:`.api`: the client and endpoint base classes, the transport, the
  server.
- :mod:`.base`: ``ping``, served by every controller and agent.
- :mod:`.controller`: the controller's server on :data:`.controller.TOPIC`
  and the entry point through which other packages add endpoints to it.
"""

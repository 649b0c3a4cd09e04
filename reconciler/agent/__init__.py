"""``cinder-reconciler-agent``: a compute node's host scans, over RPC.

- :mod:`.reporter`: one pass: scan, report to a controller, re-check.
- :mod:`.endpoint`: what a controller may ask of this agent (a scan, a
  disconnect under os-brick's lock).
- :mod:`.service`: the process: a timer and an RPC server.

It reads ``[DEFAULT] transport_url`` and ``[host_scan]`` only: no database,
no Cinder, no array; the controller judges its scans and keeps the history
(reconciler.fleet).
"""

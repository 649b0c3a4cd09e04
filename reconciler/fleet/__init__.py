"""The controller's side of host agents.

- :mod:`.views`: Cinder's attachments and volume states, listed once per
  cycle for every host, and a host's fresh view when a pass would change
  its findings.
- :mod:`.endpoint`: the ``host`` RPC API agents report to.
- :mod:`.staleness`: which hosts' agents went silent.
- :mod:`.remediation`: host remediation through a host's agent.
"""

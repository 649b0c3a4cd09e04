"""The cloud scope: Cinder against Nova and Keystone (scope ``cloud``).

Same pipeline as a backend's or a host's pass, another scope: Cinder's
whole cloud (volumes, snapshots, backups, attachments, services) against
Nova's servers and block device mappings and Keystone's projects ->
compare (pure) -> re-check with point look-ups -> the same history,
lifecycle and notifications. See ``manager.py``.
"""

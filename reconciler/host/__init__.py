"""Host reconciliation: this host's devices against Cinder's attachments.

The same pipeline as a backend pass, with a host as its scope: ``inventory``
lists and decodes what the kernel shows (the host's "driver"), ``cinder``
is Cinder's view of the attachments to this host, ``compare`` is pure, and
``manager`` runs one pass and records it in the shared history.
"""

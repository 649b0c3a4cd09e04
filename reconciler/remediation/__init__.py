"""Remediation: a stage after confirm, never inside a pass.

plan (eligible confirmed findings to steps, limited) -> re-check (fresh
point look-ups on both sides, right before each step) -> act (one narrow
driver method, or Cinder's own API) -> audit (the actions table and
``reconciler.remediation.*`` notifications). The next pass resolves what a
step fixed, through the normal lifecycle.
"""

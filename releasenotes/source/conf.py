"""Sphinx configuration of cinder-reconciler's release notes (reno)."""

extensions = ['reno.sphinxext']

project = 'cinder-reconciler Release Notes'
copyright = '2026, OpenStack contributors'
master_doc = 'index'
templates_path = ['_templates']
html_static_path = ['_static']
exclude_patterns = []

"""oslo.policy rules with their defaults in code (``list_rules`` is the
``oslo.policy.policies`` entry point the sample generator reads).
"""

import itertools

from reconciler.api.policies import base
from reconciler.api.policies import findings
from reconciler.api.policies import records


def list_rules():
    return list(itertools.chain(base.list_rules(), findings.list_rules(),
                                records.list_rules()))

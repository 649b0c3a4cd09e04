"""Libraries' numeric options, registered with bounds of our own.

keystoneauth's session and adapter options and oslo.db's pool options have
no minimum or maximum: ``[cinder] timeout = 0`` would pass validation and
fail every request. Copies of them, with the bounds given here, are
registered instead; the libraries read them by name, as before.
"""

import copy


def bounded(opts, limits):
    """``opts`` with ``limits`` (``{dest: (min, max)}``) on those named.

    Copies: a library's option objects are shared by every caller.
    """
    result = []
    for opt in opts:
        if opt.dest in limits:
            opt = copy.deepcopy(opt)
            low, high = limits[opt.dest]
            opt.type = type(opt.type)(min=low, max=high)
        result.append(opt)
    return result

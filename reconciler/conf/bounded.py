#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

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

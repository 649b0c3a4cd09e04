"""The tail every mode of tools/bench.py shares.

Figures are measured (or read back with ``--load``) and summarised as they
come, then written (``--json``), drawn (``--plot``), tabled
(``--markdown``) and checked (``--quick``).
"""

import json


def report(args, measure_all, summary, plot=None, markdown=None,
           check=None, name='bench'):
    """The results of ``measure_all()`` (an iterable of result dicts, not
    called with ``--load``), reported as ``args`` asks; ``summary(r)`` is
    a result's lines, ``check(results)`` raises if ``--quick``'s figures
    are not sane.
    """
    if args.load:
        with open(args.load) as f:
            results = json.load(f)
        for r in results:
            print('\n'.join(summary(r)))
    else:
        results = []
        for r in measure_all():
            print('\n'.join(summary(r)), flush=True)
            results.append(r)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    if args.plot and plot is not None:
        plot(results, args.plot)
    if args.markdown and markdown is not None:
        print(markdown(results))
    if args.quick and check is not None:
        check(results)
        print('%s --quick: ok' % name)
    return results

"""A Python rule for the invoice project: a check across objects that no native kind makes.

Every CURRENCY box must sit on the same line as an AMOUNT box (their vertical centres within
2% of the page height): a currency read elsewhere on the page is likely the wrong one.
"""

from __future__ import annotations

from collections.abc import Iterator

import kili_rules
from kili_rules import Finding, LabelView


def _centre_y(ring: tuple[tuple[float, float], ...]) -> float:
    ys = [y for _, y in ring]
    return (min(ys) + max(ys)) / 2


@kili_rules.python_rule(id="currency-beside-amount", severity="warning")
def currency_beside_amount(label: LabelView) -> Iterator[Finding]:
    amounts = [_centre_y(o.rings[0]) for o in label.objects if o.category == "AMOUNT" and o.rings]
    for obj in label.objects:
        if obj.category != "CURRENCY" or not obj.rings:
            continue
        y = _centre_y(obj.rings[0])
        gap = min((abs(y - a) for a in amounts), default=None)
        if gap is None or gap > 0.02:
            yield Finding(
                "Currency not on the line of an amount", mid=obj.mid, value=gap, limit=0.02
            )

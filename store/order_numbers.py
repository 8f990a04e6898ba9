"""Order numbers customers can type and read aloud but nobody can guess.

A new number is `CS` + the UTC date (YYMMDD) + 5 random characters of Crockford's base32
(digits and capitals without I, L, O and U): `CS2611297KQ4M`, about 33.5 million choices a
day. Numbers of the first format (`CS100001`, sequential) stay valid. What a customer types is
read the way Crockford's alphabet means it: any case, dashes and spaces ignored, I and L as 1,
O as 0.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LENGTH = 5

# What a customer may type for a number, in either format (the NLU's order_id entity).
# The random part also takes I, L and O, which Crockford reads as 1, 1 and 0.
TYPED = r"cs-?(?:[0-9]{6}-?[0-9a-tv-z]{5}(?![0-9a-z])|[0-9]{6,}(?![0-9]))"

_CROCKFORD_READING = str.maketrans("ILO", "110")


def new_number(now: datetime) -> str:
    """A fresh number for an order placed at `now`; the caller makes sure it is unused."""
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"CS{now:%y%m%d}{random_part}"


def canonical(typed: str) -> str:
    """The stored form of a number as a customer typed it ('cs-261129-7kq4m' → 'CS2611297KQ4M');
    anything else comes back upper-cased without spaces or dashes, and simply matches nothing."""
    compact = re.sub(r"[\s-]", "", typed or "").upper()
    if re.fullmatch(r"CS[0-9]{6}[0-9A-Z]{5}", compact):
        return compact[:8] + compact[8:].translate(_CROCKFORD_READING)
    return compact

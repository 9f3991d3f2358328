"""Which SMTP replies mean "slow down" rather than "this message has a problem".

A relay that limits how fast a client may send (Postfix's anvil and policy
limits, a provider's submission quota) defers with a 4xx reply: `450 4.7.1
Error: too much mail from 192.0.2.10`, `421 4.7.0 Error: too many connections`.
Counted as an attempt, such a reply fails letters that never had a fair try
(88 of 168 in a run against a relay limited to 10 messages a minute), so the
provider marks it `rate_limited` and the sender slows down for everyone instead.

- 421 closes the session: the relay is shedding load, whatever the text says.
- 450 and 451 with the enhanced status 4.7.x are policy deferrals, of which
  rate limits are the common case at a submission relay.
- Any 4xx whose text says so ("too much mail", "rate limit", "try again
  later", "throttled", "too many ...").

5xx replies are never throttling here: they are permanent, whatever they say.
"""

from __future__ import annotations

import re

_POLICY_STATUS = re.compile(r"^\s*4\.7\.\d{1,3}\b")
_THROTTLE_WORDS = re.compile(
    r"too much mail|rate.?limit|try again later|throttl|too many|slow down|"
    r"exceeded .*(?:rate|quota|limit)|(?:rate|quota|limit)\w* exceeded",
    re.IGNORECASE,
)


def is_throttling(code: int, text: str) -> bool:
    """Whether an SMTP reply (`code`, and its text without the code) asks us to slow down.

    `text` may start with the enhanced status code ("4.7.1 Error: ...").
    """
    if not 400 <= code < 500:
        return False
    if code == 421:
        return True
    if code in (450, 451) and _POLICY_STATUS.match(text):
        return True
    return _THROTTLE_WORDS.search(text) is not None

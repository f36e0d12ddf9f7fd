"""What can go wrong on the way to a recipient, each sorted into what to do next.

* ``Transient``: nothing was delivered and trying again later is safe (connection refused,
  SMTP 4xx, HTTP 429 or 5xx, the registry unreachable).
* ``Permanent``: trying again cannot help (SMTP 5xx, an invalid number).
* ``Unknown``: the request went out and no answer came back; the message may have been sent,
  so it is not sent again blindly.
"""

from __future__ import annotations


class DeliveryError(Exception):
    pass


class Transient(DeliveryError):
    pass


class Permanent(DeliveryError):
    pass


class Unknown(DeliveryError):
    pass


class NotYetRecorded(Transient):
    """The registry does not know the offer yet: the two services read the same event."""


class UnknownVolunteer(Exception):
    """The registry has no such volunteer: there is nobody to write to."""

"""The one exception hierarchy of `ticketing`: all it raises on bad input is a TicketingError.

The errors of the whole package live here, and those of a subpackage in its own `errors`
module (`fares`, `gtfs`, `ledger`, `payments`, `settlement`); stores and services define none.

TicketingError
├── NaiveTime               a time without a timezone where an instant is needed
├── CurrencyError           an unknown currency, or arithmetic across two currencies
├── UnknownRecord           no rider account, pass or credential with this id
├── RecordConflict          an id already used by a different record
├── InvalidRecord           a record that cannot be stored as given
├── UnknownDenyListVersion  a deny-list version the backend never published
├── CredentialNotIssued     the issuer keys cannot sign a credential now
├── PassOnAnotherPhone      the account's pass is live on another phone (move it explicitly)
├── MoveLimitReached        the pass was moved to another phone too often today
├── UnknownRider            taps of an account the backend does not know
├── DayAlreadyPriced        a day recorded at another price
├── PassNotSold             a pass the feed does not sell to the rider's category
├── PassPaymentDeclined     a postpaid rider's card declined for a pass: nothing sold
├── InvalidUser             a username, password or role that cannot be used
├── UserExists              the username (or the account's user) is taken
├── BadCredentials          no user with this username and password
├── UnknownUser             no user has this username
├── InvalidAuditEntry       an audit line that cannot be recorded as given
├── InvalidAuditQuery       filters or a cursor the audit log cannot be read with
├── InvalidMessage          a message to a rider that cannot be sent as given
├── OutboxError             the outbox cannot be written or read
├── QuarantineError         finance's work on quarantined taps refused (ticketing.journal)
│   ├── UnknownQuarantinedTap  no quarantined tap with this id
│   ├── QuarantineResolved     the tap was attributed or written off already
│   └── NotAttributable        a tap whose place or time cannot be priced; no such account
└── DeviceError             the device registry refuses (ticketing.devices)
    ├── InvalidDevice       a device id, binding or enrolment request that cannot be used
    ├── UnknownPlace        a binding to a stop, route or lot that does not exist
    ├── UnknownDevice       no device is registered with this id
    ├── DeviceExists        the device is enrolled already (revoke it to register it again)
    ├── EnrolmentRefused    an enrolment code that is wrong, used or expired
    ├── DeviceKeyMismatch   the server's device key does not open a stored device secret
    └── WrongDeviceKind     a device uploading another kind's records (a barrier's taps)
"""


class TicketingError(Exception):
    """Base of every error `ticketing` raises for bad input or a broken rule."""


class NaiveTime(TicketingError):
    """A time without a timezone where an instant is needed (a tap, a service day's moment)."""


class InvalidAuditEntry(TicketingError):
    """An audit line that cannot be recorded as given (a name, id or snapshot out of bounds)."""


class InvalidAuditQuery(TicketingError):
    """Filters or a page cursor the audit log cannot be read with."""


class InvalidMessage(TicketingError):
    """A message to a rider that cannot be sent as given (a template's parameters missing or
    of the wrong kind, a naive time, an empty dedup key) or a stored one that does not read."""


class OutboxError(TicketingError):
    """The outbox cannot be written or read (its file, its configuration)."""


class UnknownRecord(TicketingError):
    """No rider account, pass or credential with this id."""


class RecordConflict(TicketingError):
    """An id is already used by a different account, pass or credential."""


class InvalidRecord(TicketingError):
    """A record that cannot be stored as given (e.g. a pass that ends before it starts)."""


class UnknownDenyListVersion(TicketingError):
    """A gate asked for changes since a version the backend never published: it must fetch a
    snapshot instead."""


class CredentialNotIssued(TicketingError):
    """The issuer keys cannot sign a credential now (expired, missing private halves)."""


class PassOnAnotherPhone(TicketingError):
    """The account's pass is live on another phone: a sign-in does not take it from there;
    moving it ("use my pass on this phone") is a step of its own."""


class MoveLimitReached(TicketingError):
    """The pass was moved to another phone as often as a service day allows."""


class UnknownRider(TicketingError):
    """Taps name an account the backend has no record of."""


class DayAlreadyPriced(TicketingError):
    """A day handed in as new already has a recorded price that differs; re-price it with
    `FarePricing.price_day`, which reverses the recorded posting."""


class PassNotSold(TicketingError):
    """The feed does not sell this pass to the rider's category."""


class InvalidUser(TicketingError):
    """A username, password or role that cannot be used as given."""


class UserExists(TicketingError):
    """The username is taken (or the account already has a user)."""


class BadCredentials(TicketingError):
    """No user with this username and password."""


class UnknownUser(TicketingError):
    """No user has this username."""


class ResetCodeRefused(TicketingError):
    """A password reset code that is wrong, used, expired, replaced by a newer one, or guessed
    at too often (the same answer for each, and for a user that does not exist)."""


class CurrencyError(TicketingError):
    """An unknown currency, or arithmetic across two currencies."""


class DeviceError(TicketingError):
    """Base of the device registry's refusals."""


class InvalidDevice(DeviceError):
    """A device id, binding, heartbeat or enrolment request that cannot be used as given."""


class InvalidHeartbeat(InvalidDevice):
    """A heartbeat whose versions, counts or faults cannot be what a device holds."""


class UnknownPlace(DeviceError):
    """A device bound to a stop, route or lot that the fare feed or the lots do not have."""


class UnknownDevice(DeviceError):
    """No device is registered with this id."""


class DeviceExists(DeviceError):
    """The device is enrolled already: revoke it before registering it again."""


class EnrolmentRefused(DeviceError):
    """An enrolment with a wrong, used or expired code, or for a device that is not waiting."""


class DeviceKeyMismatch(DeviceError):
    """The server's device key does not open a device's stored secret (a server started with
    another deployment's key file, or a tampered row)."""


class PassPaymentDeclined(TicketingError):
    """A postpaid rider's card was declined for a pass: nothing was sold."""


class PassNeedsCard(TicketingError):
    """A postpaid rider with no saved card asked for a pass: passes are paid at purchase,
    never sold on credit."""


class PassNotRenewable(TicketingError):
    """The pass asked to renew was refunded or cancelled: buy a new one instead."""


class PassOverlaps(TicketingError):
    """The account already holds this pass for part of the period asked: a pass is one
    account, one product and one first service day, and two of one product never overlap."""


class QuarantineError(TicketingError):
    """Base of the refusals of finance's work on quarantined taps."""


class UnknownQuarantinedTap(QuarantineError):
    """No quarantined tap has this id."""


class QuarantineResolved(QuarantineError):
    """The quarantined tap was resolved already (attributed or written off)."""


class NotAttributable(QuarantineError):
    """The tap cannot be attributed as asked: its place or time cannot be priced (write it
    off), the account does not exist, or an attribution names no account."""


class WrongDeviceKind(DeviceError):
    """A device uploading records of another kind of device (a barrier sending taps)."""


class TripCaseClosed(TicketingError):
    """Finance already decided this trip case (refunded or declined): it is not decided again."""


class RefundAboveFare(TicketingError):
    """A trip case's refund above what the trip cost, or not positive."""

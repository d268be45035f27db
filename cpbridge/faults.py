"""The fault catalogue: every rejection either service gives, with its code.

SOAP callers receive these as SOAP 1.1 Faults whose ``detail`` carries
``<f:code>`` (one of the keys below) and, where it applies, ``<f:field>``.
Plain XML callers receive the same code and message in an ``<error>`` body.
docs/faults.md is checked against this table by a test.
"""

from __future__ import annotations

FAULT_NS = "urn:cpbridge:faults:1"

#: code -> (SOAP faultcode side, HTTP status, meaning)
FAULT_CODES: dict[str, tuple[str, int, str]] = {
    # inbound document problems
    "MessageTooLarge": ("Client", 413, "The message is larger than the configured limit."),
    "MalformedXml": ("Client", 400, "The message is not well-formed XML or cannot be decoded."),
    "DtdForbidden": ("Client", 400, "The message has a DOCTYPE or entity declaration."),
    "TooDeep": ("Client", 400, "The message nests elements deeper than the limit."),
    "NotSoap": ("Client", 400, "The message is not a SOAP 1.1 envelope with one body element."),
    "VersionMismatch": ("VersionMismatch", 500, "The envelope is not in the SOAP 1.1 namespace."),
    "UnknownOperation": ("Client", 400, "The body element is not an operation of this service."),
    "UnknownSystem": ("Client", 404, "No local system is configured under that name."),
    "UnknownMessageType": ("Client", 400, "The plugin's mapping recognises no message of this shape."),
    "InvalidRequest": ("Client", 400, "The message fails the schema or the canonical model; the field is named."),
    "UnmappedCode": ("Client", 400, "A local code has no translation in the mapping's code list."),
    # security
    "NotAuthenticated": ("Client", 401, "No valid WS-Security UsernameToken, or wrong credentials."),
    "Replay": ("Client", 401, "The token's nonce was already used or its timestamp is stale."),
    "NotAuthorised": ("Client", 403, "The account or the practitioner it acts for lacks the right."),
    "RateLimited": ("Client", 429, "Too many requests from this user; try later."),
    # directory rules
    "SearchTooBroad": ("Client", 400, "The search fields do not meet a permitted minimum combination."),
    "ConsentRequired": ("Client", 400, "A sensitive service needs recorded consent."),
    "NoSuchInvolvement": ("Client", 404, "No involvement with that source system and local reference."),
    "NoSuchChild": ("Client", 404, "No record the user may see has that identifier."),
    "IdentifierConflict": ("Client", 409, "A trusted identifier belongs to a different child."),
    "RecordArchived": ("Client", 409, "The child's record has left the live directory (archived); it takes no new data."),
    # server side
    "Unavailable": ("Server", 503, "The service is temporarily unavailable; retry later."),
    "InternalError": ("Server", 500, "An unexpected error; it has been logged without personal data."),
}


class Fault(Exception):
    """A rejection with a catalogued code; rendered as a SOAP Fault or an XML error."""

    def __init__(self, code: str, message: str, *, field: str | None = None):
        if code not in FAULT_CODES:
            raise ValueError(f"unknown fault code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    @property
    def side(self) -> str:
        return FAULT_CODES[self.code][0]

    @property
    def http_status(self) -> int:
        return FAULT_CODES[self.code][1]

    @property
    def retryable(self) -> bool:
        """True where the same request may succeed later (server side problems)."""
        return self.side == "Server"

    def __repr__(self) -> str:
        return f"Fault({self.code!r}, {self.message!r}, field={self.field!r})"

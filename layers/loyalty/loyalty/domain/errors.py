"""Domain errors. Each carries its HTTP status and stable code; the API maps them in one place."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "BAD_REQUEST"
    headers: dict[str, str] = {}  # noqa: RUF012 - read only: HTTP headers the answer carries

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Forbidden(DomainError):
    status, code = 403, "FORBIDDEN"


class EmailNotVerified(DomainError):
    """A member token enrolling (or changing to) an e-mail its token does not prove (`email`, `email_verified`)."""

    status, code = 403, "EMAIL_NOT_VERIFIED"


class MemberBlocked(DomainError):
    status, code = 403, "MEMBER_BLOCKED"


class MemberNotFound(DomainError):
    status, code = 404, "MEMBER_NOT_FOUND"


class RewardNotFound(DomainError):
    status, code = 404, "REWARD_NOT_FOUND"


class PurchaseNotFound(DomainError):
    status, code = 404, "TRANSACTION_NOT_FOUND"


class AlreadyEnrolled(DomainError):
    status, code = 409, "ALREADY_ENROLLED"


class BirthdayAlreadySet(DomainError):
    """A member token changing a birthday already set: the member sets it once, staff may correct it."""

    status, code = 409, "BIRTHDAY_ALREADY_SET"


class RedemptionNotFound(DomainError):
    status, code = 404, "REDEMPTION_NOT_FOUND"


class IdempotencyKeyReused(DomainError):
    status, code = 409, "IDEMPOTENCY_KEY_REUSED"


class OutOfStock(DomainError):
    status, code = 409, "OUT_OF_STOCK"


class RewardExists(DomainError):
    status, code = 409, "REWARD_EXISTS"


class StockUnlimited(DomainError):
    """A stock change on a reward with unlimited stock: there is no count to change."""

    status, code = 409, "STOCK_UNLIMITED"


class CampaignNotFound(DomainError):
    status, code = 404, "CAMPAIGN_NOT_FOUND"


class CampaignExists(DomainError):
    status, code = 409, "CAMPAIGN_EXISTS"


class CampaignNotEditable(DomainError):
    """A change to a campaign that is active or ended: campaigns are frozen once active."""

    status, code = 409, "CAMPAIGN_NOT_EDITABLE"


class RewardLimitReached(DomainError):
    status, code = 409, "REWARD_LIMIT_REACHED"


class RewardNotAvailable(DomainError):
    """The reward exists and is active, but not redeemable now (outside its validity window)."""

    status, code = 422, "REWARD_NOT_AVAILABLE"


class UnknownTier(DomainError):
    status, code = 422, "UNKNOWN_TIER"


class VoucherNotFound(DomainError):
    status, code = 404, "VOUCHER_NOT_FOUND"


class VoucherAlreadyUsed(DomainError):
    status, code = 409, "VOUCHER_ALREADY_USED"


class VoucherCancelled(DomainError):
    status, code = 409, "VOUCHER_CANCELLED"


class InsufficientPoints(DomainError):
    status, code = 422, "INSUFFICIENT_POINTS"


class CurrencyMismatch(DomainError):
    status, code = 422, "CURRENCY_MISMATCH"


class TierTooLow(DomainError):
    status, code = 422, "TIER_TOO_LOW"


class RefundExceedsPurchase(DomainError):
    status, code = 422, "REFUND_EXCEEDS_PURCHASE"


class SegmentNotFound(DomainError):
    status, code = 404, "SEGMENT_NOT_FOUND"


class SegmentExists(DomainError):
    status, code = 409, "SEGMENT_EXISTS"


class SegmentInUse(DomainError):
    status, code = 409, "SEGMENT_IN_USE"


class OfferNotFound(DomainError):
    status, code = 404, "OFFER_NOT_FOUND"


class CampaignEnded(DomainError):
    status, code = 409, "CAMPAIGN_ENDED"


class InvalidAttributes(DomainError):
    status, code = 422, "VALIDATION_ERROR"


class InvalidReferralCode(DomainError):
    status, code = 422, "INVALID_REFERRAL_CODE"


class OccurredAtOutOfRange(DomainError):
    status, code = 422, "OCCURRED_AT_OUT_OF_RANGE"


class InvalidRange(DomainError):
    status, code = 422, "INVALID_RANGE"


class TimeAhead(DomainError):
    """A scheduled job's time is ahead of the system's clock: refused, nothing written."""

    status, code = 422, "TIME_AHEAD_OF_CLOCK"


class InvalidCursor(DomainError):
    status, code = 400, "INVALID_CURSOR"


RETRY_AFTER_SECONDS = 1  # what a 503 tells the client to wait: the SDK has already retried with backoff


class Busy(DomainError):
    """A dependency throttled, a connection failed or the member is too contended: a retry can succeed, and
    retrying the same request is safe (every write is idempotent). Always sent with `Retry-After`.

    `cause` (DynamoDB's error code, or the connection error) is for the logs, not a detail the client is told.
    """

    status, code = 503, "TRY_AGAIN"
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}  # noqa: RUF012 - read only

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class StoreRejected(DomainError):
    """DynamoDB refused a request that no retry can fix (an item over 400 KB, a malformed expression, a missing
    table or permission): a defect for the operator, counted by the StoreRejected metric and logged with the
    operation and DynamoDB's reason; the client is never told to retry. Nothing was written.
    """

    status, code = 500, "STORE_REJECTED"

    def __init__(self, message: str, operation: str, cause: str | None, reason: str | None) -> None:
        super().__init__(message)
        self.operation, self.cause, self.reason = operation, cause, reason


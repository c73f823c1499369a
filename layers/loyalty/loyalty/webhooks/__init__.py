"""Webhooks: the business's own systems hear every domain event, signed, retried for 24 hours, logged.

- signing.py: the `Loyalty-Signature` header (HMAC-SHA256 of "<t>.<body>"), and how a receiver verifies it;
- addresses.py: the SSRF guard (resolve the host, refuse what is not public, connect to the checked address);
- delivery.py: one HTTP POST to a checked address with urllib3 (10 s, no redirect followed);
- store.py: subscriptions and the delivery log in the webhooks table, secrets sealed with KMS;
- usecases.py: subscribe, list, read, remove, test, retry; fan an event out and attempt each delivery;
- api.py: the API models of the admin routes.
Delivery is never on a request path: an EventBridge rule puts every event on a queue the deliver_webhooks
function consumes; retries wait in that queue (docs/webhooks.md).
"""

"""Signing secrets sealed at rest with KMS (an encryption context binds each to its subscription), opened by
the deliverer once per warm instance and subscription."""

from __future__ import annotations

import threading
from typing import Protocol


class SecretBox(Protocol):
    def seal(self, webhook_id: str, secret: str) -> bytes: ...

    def open(self, webhook_id: str, sealed: bytes) -> str: ...


class KmsSecretBox:
    def __init__(self, kms_client, key_id: str) -> None:
        self.kms, self.key_id = kms_client, key_id
        self._opened: dict[tuple[str, bytes], str] = {}
        self._lock = threading.Lock()

    def seal(self, webhook_id: str, secret: str) -> bytes:
        return self.kms.encrypt(KeyId=self.key_id, Plaintext=secret.encode(),
                                EncryptionContext={"webhook_id": webhook_id})["CiphertextBlob"]

    def open(self, webhook_id: str, sealed: bytes) -> str:
        with self._lock:
            known = self._opened.get((webhook_id, sealed))
        if known is None:
            known = self.kms.decrypt(CiphertextBlob=sealed, EncryptionContext={"webhook_id": webhook_id})["Plaintext"].decode()
            with self._lock:
                self._opened[(webhook_id, sealed)] = known
        return known

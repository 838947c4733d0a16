"""Residents, their card certificates, one-time signing requests, and security events.

The My Number is stored only encrypted, found only through its keyed hash, and shown only masked.
Certificate serial numbers are kept as keyed hashes and never leave the portal.
"""

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.core.fields import EncryptedTextField


class UserManager(BaseUserManager["User"]):
    def create_user(self, username: str, password: str | None = None, **extra: Any) -> "User":
        user = self.model(username=username, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **extra: Any) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(username, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A login: a resident (by card, never by password) or a member of portal staff (admin)."""

    username = models.CharField(max_length=150, unique=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # Sessions that began before this moment are ended at their next request (a refused step-up, say).
    sessions_valid_after = models.DateTimeField(null=True, blank=True)

    objects = UserManager()
    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.username


class Sex(models.TextChoices):
    MALE = "1", _("男性")
    FEMALE = "2", _("女性")
    OTHER = "9", _("その他")


class Resident(models.Model):
    """利用者フォルダ: the resident's user folder, opened on first login with the signature certificate."""

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="resident")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    name_kana = models.CharField(max_length=200)
    birth_date = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices)
    address = models.CharField(max_length=400)
    my_number = EncryptedTextField()
    my_number_hash = models.CharField(max_length=64, unique=True)
    # 支援措置: the municipality protects this resident's address (domestic violence, stalking): it is
    # never shown to a proxy. Set by staff on the municipality's word.
    address_protected = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Resident {self.public_id}"

    @property
    def my_number_masked(self) -> str:
        """The number as residents see it on screen: only the last four digits."""
        return "●●●● ●●●● " + self.my_number[-4:]


class CertificateKind(models.TextChoices):
    AUTH = "auth", _("利用者証明用電子証明書")
    SIGNATURE = "signature", _("署名用電子証明書")


class CardCertificate(models.Model):
    """A card certificate linked to a resident, known by a keyed hash of its issuer and serial."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="certificates")
    kind = models.CharField(max_length=10, choices=CertificateKind.choices)
    serial_hash = models.CharField(max_length=64, unique=True)
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Seen on the CA's revocation list (the card was suspended, lost or replaced).
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.serial_hash[:8]})"


class SigningKind(models.TextChoices):
    LOGIN = "login", _("ログイン")
    REGISTER = "register", _("利用者登録")
    STEPUP = "stepup", _("署名による確認")
    CHILD = "child", _("お子様の利用者登録")


class SigningStatus(models.TextChoices):
    PENDING = "pending", _("署名待ち")
    SIGNED = "signed", _("署名済み")
    REFUSED = "refused", _("拒否")
    CONSUMED = "consumed", _("使用済み")


class SigningRequest(models.Model):
    """A one-time challenge for the card: log in, open the user folder, or sign one sensitive act.

    Bound to the browser that asked for it (a hash of a secret kept in that browser's session), so a
    photographed QR code cannot log someone else's browser in.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=SigningKind.choices)
    certificate = models.CharField(max_length=10, choices=CertificateKind.choices)
    nonce = models.CharField(max_length=64)
    summary_ja = models.TextField()
    summary_en = models.TextField()
    act = models.CharField(max_length=100, blank=True)
    act_digest = models.CharField(max_length=64, blank=True)
    browser_key_hash = models.CharField(max_length=64)
    # Step-up: whose act this is. Login: who signed (null until known, or for a first login).
    resident = models.ForeignKey(Resident, null=True, blank=True, on_delete=models.CASCADE)
    status = models.CharField(max_length=10, choices=SigningStatus.choices, default=SigningStatus.PENDING)
    refusal_code = models.CharField(max_length=50, blank=True)
    signer_serial_hash = models.CharField(max_length=64, blank=True)
    signer_not_after = models.DateTimeField(null=True, blank=True)
    # First login: the auth certificate that started it, then the identity read from the card (encrypted).
    auth_serial_hash = models.CharField(max_length=64, blank=True)
    auth_not_after = models.DateTimeField(null=True, blank=True)
    card_identity = EncryptedTextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    signed_at = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at


class SecurityEvent(models.Model):
    """A refusal or a security-relevant act, for staff. Holds codes and ids, never card secrets."""

    kind = models.CharField(max_length=50)
    resident = models.ForeignKey(Resident, null=True, blank=True, on_delete=models.SET_NULL)
    signing_request_id = models.UUIDField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} at {self.created_at:%Y-%m-%d %H:%M}"

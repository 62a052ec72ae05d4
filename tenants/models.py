"""Tenant configuration: who the tenant is (a Salesforce org), how we reach its Salesforce and its
messaging provider, which numbers feed which Messaging channel, and how conversations are routed.

Every tenant-owned model has a ``tenant`` foreign key and a manager whose ``for_tenant()`` is the
only way product code reads it (see DESIGN.md, "Rules of the house").
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from . import case_settings, config_cache
from .fields import EncryptedTextField
from .validators import (
    make_salesforce_id_validator,
    normalize_e164,
    normalize_salesforce_id,
    validate_api_origin,
    validate_channel_id,
    validate_provider_account_id,
    validate_salesforce_url,
    validate_subaccount_id,
)


class User(AbstractUser):
    """A person who signs into the site: a superuser, a tenant admin or an agent (see Membership)."""

    def admin_tenant_ids(self) -> set[int]:
        return set(
            self.memberships.filter(role=Membership.Role.ADMIN, tenant__active=True).values_list(
                "tenant_id", flat=True
            )
        )


class Partner(models.Model):
    """A company that runs Switchboard tenants for its customers (provider, agency, integrator)."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConfigQuerySet(models.QuerySet):
    """Bulk writes send no post_save: the configuration caches (tenants/config_cache.py) hear of them here."""

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        if self.model._meta.label in config_cache.WATCHED:
            config_cache.changed()
        return rows

    update.alters_data = True  # type: ignore[attr-defined]

    def delete(self):
        deleted = super().delete()
        if self.model._meta.label in config_cache.WATCHED:
            config_cache.changed()
        return deleted

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]


class Tenant(models.Model):
    """One Salesforce org, with the texts its customers see."""

    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="tenants"
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True, help_text="Short name used in URLs and logs.")
    org_id = models.CharField(
        "Salesforce org id",
        max_length=18,
        unique=True,
        validators=[make_salesforce_id_validator("organization")],
        help_text="15 or 18 characters, starting with 00D (Setup → Company Information). Stored as 18.",
    )
    active = models.BooleanField(default=True)
    welcome_text = models.TextField(blank=True, help_text="Sent to a customer when a new conversation opens.")
    closing_text = models.TextField(blank=True, help_text="Sent when the agent ends the session.")
    no_agent_text = models.TextField(
        blank=True, help_text="Sent when no agent is available for the routing target."
    )
    delivery_window = models.DurationField(
        default=timedelta(days=3),
        help_text="How long a message keeps being retried before it is marked failed and both sides are told.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConfigQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.org_id and len(self.org_id) == 15:
            self.org_id = normalize_salesforce_id(self.org_id, kind="organization")
        super().save(*args, **kwargs)

    @property
    def org_id15(self) -> str:
        return self.org_id[:15]

    def clean(self) -> None:
        if self.org_id:
            try:
                self.org_id = normalize_salesforce_id(self.org_id, kind="organization")
            except ValidationError as exc:
                raise ValidationError({"org_id": exc.messages}) from exc
        if not self.slug and self.name:
            self.slug = slugify(self.name)[:50]


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Tenant admin"
        AGENT = "agent", "Agent"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    salesforce_user_id = models.CharField(
        max_length=18,
        blank=True,
        validators=[make_salesforce_id_validator("user")],
        help_text="The user's Salesforce id, to recognize them when they open our pages inside Salesforce.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_user_and_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} of {self.tenant}"


class TenantQuerySet(ConfigQuerySet):
    def for_tenant(self, tenant: Tenant | int):
        return self.filter(tenant=tenant)


class TenantOwned(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class SalesforceConnection(TenantOwned):
    """How we reach the tenant's org: JWT bearer login, REST, the Interaction Service, Pub/Sub, Canvas."""

    class Environment(models.TextChoices):
        PRODUCTION = "production", "Production or Developer Edition"
        SANDBOX = "sandbox", "Sandbox"

    class Desk(models.TextChoices):
        MESSAGING = "messaging", "Messaging (Bring Your Own Channel)"
        LIVECHAT = "livechat", "Legacy Chat (retired by Salesforce on 2026-02-14)"
        ENHANCED_CHAT = "enhanced_chat", "Enhanced Chat (Messaging for In-App and Web)"
        CASES = "cases", "Cases (Service Cloud Case per conversation)"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="salesforce")
    desk = models.CharField(max_length=20, choices=Desk.choices, default=Desk.MESSAGING)
    environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.PRODUCTION)
    login_url = models.URLField(
        blank=True,
        validators=[validate_salesforce_url],
        help_text="Where to get tokens. Empty: login.salesforce.com (or test.salesforce.com for a sandbox).",
    )
    instance_url = models.URLField(
        "My Domain URL",
        validators=[validate_salesforce_url],
        help_text="https://<mydomain>.my.salesforce.com",
    )
    scrt_url = models.URLField(
        "SCRT URL",
        blank=True,
        validators=[validate_salesforce_url],
        help_text="Interaction Service host, https://<mydomain>.my.salesforce-scrt.com. Empty: derived from My Domain.",
    )
    consumer_key = models.CharField(max_length=255, blank=True, help_text="The Connected App's consumer key.")
    integration_username = models.CharField(
        max_length=255,
        blank=True,
        help_text="Salesforce username of the integration user (pre-authorized in the app).",
    )
    private_key = EncryptedTextField(help_text="PEM private key that signs the JWT assertion.")
    certificate = models.TextField(blank=True, help_text="PEM certificate to upload to the Connected App.")
    authorization_context = models.CharField(
        max_length=80, blank=True, help_text="The ConversationChannelDefinition developer name."
    )
    platform_event = models.CharField(
        max_length=80,
        blank=True,
        default="Switchboard_Interaction__e",
        help_text="API name of the platform event.",
    )
    event_type_field = models.CharField(max_length=80, default="EventType__c")
    event_payload_field = models.CharField(max_length=80, default="Payload__c")
    canvas_consumer_secret = EncryptedTextField(
        help_text="Consumer secret of the Canvas app (verifies signed requests)."
    )
    # Legacy Chat (Live Agent)
    chat_api_endpoint = models.URLField(
        blank=True,
        validators=[validate_salesforce_url],
        help_text="Chat API endpoint, e.g. https://d.la1-c2-ia4.salesforceliveagent.com/chat/rest/",
    )
    chat_deployment_id = models.CharField(
        max_length=18, blank=True, validators=[make_salesforce_id_validator("chat_deployment")]
    )
    chat_button_id = models.CharField(
        max_length=18, blank=True, validators=[make_salesforce_id_validator("chat_button")]
    )
    # Enhanced Chat (Messaging for In-App and Web): the org id is the tenant's, the host is scrt_url's
    es_developer_name = models.CharField(
        "Embedded Service deployment",
        max_length=80,
        blank=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$",
                "The API Name of an Embedded Service deployment: letters, digits and single underscores, "
                "starting with a letter (e.g. Switchboard_Chat).",
            )
        ],
        help_text="The API Name of the Embedded Service deployment (Setup → Embedded Service Deployments).",
    )
    # Cases desk (relay/desks/cases.py, docs/cases.md): a Case per conversation, its transcript on the Case
    case_transcript = models.CharField(
        "Case transcript as",
        max_length=10,
        choices=[("feed", "Feed items (Chatter)"), ("comment", "Case comments")],
        default="feed",
        help_text="Where every message of the conversation is written on the Case.",
    )
    case_reopen_hours = models.PositiveIntegerField(
        "Reopen window (hours)",
        default=0,
        validators=[MaxValueValidator(24 * 365)],
        help_text="A customer writing within this many hours of the Case closing reopens it; 0: a new Case.",
    )
    case_reopen_status = models.CharField(
        max_length=40, default="New", help_text="The Status a reopened Case gets (a value of the picklist)."
    )
    case_origins = models.JSONField(
        "Case origin per channel",
        default=dict,
        blank=True,
        validators=[case_settings.validate_origins],
        help_text='e.g. {"whatsapp": "WhatsApp", "sms": "SMS"}; a channel not named: its name.',
    )
    case_status_texts = models.JSONField(
        "Text to the customer per Case status",
        default=dict,
        blank=True,
        validators=[case_settings.validate_status_texts],
        help_text='e.g. {"Working": "An agent is looking at your request."}; Closed uses the closing text.',
    )
    case_field_mapping = models.JSONField(
        "Case field mapping",
        default=dict,
        blank=True,
        validators=[case_settings.validate_field_mapping],
        help_text='Case field → value or placeholder, e.g. {"Brand__c": "Acme", "Phone__c": "{customer}"}.',
    )
    case_default_queue_id = models.CharField(
        "Default owner queue",
        max_length=18,
        blank=True,
        validators=[make_salesforce_id_validator("queue")],
        help_text="Queue (Group id, 00G…) that owns a new Case when no routing rule names one.",
    )
    case_create_contacts = models.BooleanField(
        default=True, help_text="Create a Contact when none has the customer's phone number."
    )

    def __str__(self) -> str:
        return f"Salesforce connection of {self.tenant}"

    @property
    def token_url(self) -> str:
        return (self.login_url or self.audience).rstrip("/") + "/services/oauth2/token"

    @property
    def audience(self) -> str:
        """The JWT ``aud``: fixed by the org's environment, even when tokens come from My Domain."""
        if self.environment == self.Environment.SANDBOX:
            return "https://test.salesforce.com"
        return "https://login.salesforce.com"

    @property
    def interaction_base_url(self) -> str:
        if self.scrt_url:
            return self.scrt_url.rstrip("/")
        return derive_scrt_url(self.instance_url)


def derive_scrt_url(instance_url: str) -> str:
    """``https://acme.my.salesforce.com`` → ``https://acme.my.salesforce-scrt.com`` (sandboxes too)."""
    return instance_url.rstrip("/").replace(".my.salesforce.com", ".my.salesforce-scrt.com")


class ProviderAccount(TenantOwned):
    """An account at a messaging provider, and how its webhooks prove they come from it."""

    class Provider(models.TextChoices):
        INFOBIP = "infobip", "Infobip"
        EIGHT_BY_EIGHT = "8x8", "8x8"
        TWILIO = "twilio", "Twilio"

    class WebhookAuth(models.TextChoices):
        HMAC = "hmac", "HMAC-SHA256 signature of the body"
        BASIC = "basic", "HTTP Basic credentials"
        HEADER = "header", "Secret token in a header"

    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.INFOBIP)
    name = models.CharField(max_length=120)
    base_url = models.URLField(
        validators=[validate_api_origin],
        help_text="Your account's API base URL, e.g. https://abcd12.api.infobip.com",
    )
    api_key = EncryptedTextField(help_text="The provider API key.")
    active = models.BooleanField(default=True)
    webhook_key = models.CharField(
        max_length=64,
        unique=True,
        editable=False,
        help_text="Unguessable part of this account's webhook URL.",
    )
    webhook_auth = models.CharField(max_length=10, choices=WebhookAuth.choices, default=WebhookAuth.HMAC)
    webhook_username = models.CharField(max_length=64, blank=True, editable=False)
    webhook_secret = EncryptedTextField(editable=False, help_text="Generated by Switchboard; shown once.")
    # 8x8 Chat Apps sends through a sub-account and lists templates and webhooks under the account id.
    subaccount_id = models.CharField(
        "sub-account id",
        max_length=50,
        blank=True,
        validators=[validate_subaccount_id],
        help_text="8x8: the Chat Apps sub-account that sends (3 to 50 letters, digits, - . _ &).",
    )
    provider_account_id = models.CharField(
        "provider account id",
        max_length=36,
        blank=True,
        validators=[validate_provider_account_id],
        help_text="8x8: your account id (a UUID), for templates and the webhook configuration.",
    )

    class Meta:
        ordering = ["tenant__name", "name"]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} – {self.name}"

    def save(self, *args, **kwargs):
        if not self.webhook_key:
            self.webhook_key = secrets.token_urlsafe(24)
        super().save(*args, **kwargs)

    def rotate_webhook_credentials(self) -> str:
        """Generate new webhook credentials and return the secret, the only time it is readable in clear."""
        secret = secrets.token_urlsafe(32)
        self.webhook_secret = secret
        self.webhook_username = (
            f"sb-{secrets.token_hex(4)}" if self.webhook_auth == self.WebhookAuth.BASIC else ""
        )
        return secret

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/{self.provider}/{self.webhook_key}/"


class Sender(TenantOwned):
    """A number or sender name of a provider account, and the Salesforce Messaging channel it feeds."""

    class Channel(models.TextChoices):
        WHATSAPP = "whatsapp", "WhatsApp"
        SMS = "sms", "SMS"
        VIBER = "viber", "Viber"

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="senders")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    address = models.CharField(
        max_length=64, help_text="E.164 number (WhatsApp, SMS) or the sender name (Viber, alphanumeric SMS)."
    )
    display_name = models.CharField(max_length=120, blank=True)
    enabled = models.BooleanField(default=True)
    channel_address_identifier = models.CharField(
        "Messaging channel address",
        max_length=80,
        blank=True,
        help_text="ChannelAddressIdentifier of the Salesforce Messaging channel this sender feeds.",
    )

    class Meta:
        ordering = ["account", "channel", "address"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "channel", "address"], name="one_sender_per_account_channel_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.address}"

    def clean(self) -> None:
        if self.account_id and self.tenant_id and self.account.tenant_id != self.tenant_id:
            raise ValidationError({"account": "This provider account belongs to another tenant."})
        if self.account_id and self.account.provider == ProviderAccount.Provider.EIGHT_BY_EIGHT:
            # 8x8 names a sender by its channel id (recipient.channelId of its webhooks), for every channel.
            try:
                self.address = validate_channel_id(self.address)
            except ValidationError as exc:
                raise ValidationError({"address": exc.messages}) from exc
            return
        if self.channel in (self.Channel.WHATSAPP,) or (
            self.channel == self.Channel.SMS and _looks_numeric(self.address)
        ):
            try:
                self.address = normalize_e164(self.address, field="sender number")
            except ValidationError as exc:
                raise ValidationError({"address": exc.messages}) from exc
        elif not self.address.strip():
            raise ValidationError({"address": "Enter the sender name."})
        elif self.channel == self.Channel.SMS and len(self.address) > 11:
            raise ValidationError({"address": "An alphanumeric SMS sender has at most 11 characters."})


def _looks_numeric(value: str) -> bool:
    return value.strip().lstrip("+").isdigit()


PATTERN_MAX_LENGTH = 64


class RoutingRule(TenantOwned):
    """Where conversations on a sender go: a queue, an agent, a flow or a legacy chat button."""

    class Target(models.TextChoices):
        CHANNEL = "channel", "The channel's own routing"
        QUEUE = "queue", "Queue"
        AGENT = "agent", "Agent"
        FLOW = "flow", "Omni-Channel flow"
        CHAT_BUTTON = "chat_button", "Legacy chat button"

    _ID_KIND = {
        Target.QUEUE: "queue",
        Target.AGENT: "user",
        Target.FLOW: "flow",
        Target.CHAT_BUTTON: "chat_button",
    }

    sender = models.ForeignKey(Sender, on_delete=models.CASCADE, related_name="routing_rules")
    customer_pattern = models.CharField(
        max_length=PATTERN_MAX_LENGTH,
        blank=True,
        help_text="Optional: only customers whose number matches, e.g. +4477* (shell-style wildcards).",
    )
    target_type = models.CharField(max_length=20, choices=Target.choices, default=Target.QUEUE)
    target_id = models.CharField(
        max_length=18, blank=True, help_text="Salesforce id of the queue, agent, flow or button."
    )
    target_label = models.CharField(max_length=200, blank=True)
    fallback_type = models.CharField(max_length=20, choices=Target.choices, blank=True)
    fallback_id = models.CharField(max_length=18, blank=True)
    fallback_label = models.CharField(max_length=200, blank=True)
    priority = models.PositiveIntegerField(default=100, help_text="Lower numbers are tried first.")
    sticky_agent = models.BooleanField(
        default=False,
        help_text="A returning customer goes to the agent they had last, when that agent is available.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sender", "priority", "id"]

    def __str__(self) -> str:
        target = self.target_label or self.target_id or self.get_target_type_display()
        return f"{self.sender} → {target}"

    def clean(self) -> None:
        errors: dict[str, str | list[str]] = {}
        if self.sender_id and self.tenant_id and self.sender.tenant_id != self.tenant_id:
            errors["sender"] = "This sender belongs to another tenant."
        for type_field, id_field in (("target_type", "target_id"), ("fallback_type", "fallback_id")):
            kind = self._ID_KIND.get(getattr(self, type_field))
            value = getattr(self, id_field)
            if kind and not value:
                errors[id_field] = f"Choose the {kind.replace('_', ' ')} to route to."
            elif kind:
                try:
                    setattr(self, id_field, normalize_salesforce_id(value, kind=kind))
                except ValidationError as exc:
                    errors[id_field] = exc.messages
        if self.fallback_id and not self.fallback_type:
            errors["fallback_type"] = "Say what the fallback id is."
        if self.fallback_type and self.target_type == self.Target.CHANNEL:
            errors["fallback_type"] = (
                "The channel's own routing has no fallback: choose a target to fall back from."
            )
        elif (
            self.fallback_type
            and (self.fallback_type, self.fallback_id) == (self.target_type, self.target_id)
            and "fallback_id" not in errors
        ):
            errors["fallback_id"] = "The fallback is the same as the target."
        if self.customer_pattern and not set(self.customer_pattern) <= set("+0123456789*?[]"):
            errors["customer_pattern"] = "Use digits, + and the wildcards * ? [ ] only, e.g. +4477*."
        elif self.customer_pattern[:1].isdigit() and self._numbers_have_plus():
            # Customers of WhatsApp and SMS are stored in E.164 with its +: "385*" would never match.
            if len(self.customer_pattern) >= PATTERN_MAX_LENGTH:
                errors["customer_pattern"] = "Start the pattern with + (E.164), e.g. +4477*."
            else:
                self.customer_pattern = "+" + self.customer_pattern
        if errors:
            raise ValidationError(errors)

    def _numbers_have_plus(self) -> bool:
        """Whether the sender's customers are phone numbers in E.164 (WhatsApp, SMS; not Viber's user ids)."""
        sender = self.sender if self.sender_id else None
        return sender is not None and sender.channel in (Sender.Channel.WHATSAPP, Sender.Channel.SMS)

    def matches(self, customer_number: str) -> bool:
        return not self.customer_pattern or fnmatch.fnmatchcase(customer_number, self.customer_pattern)


class ApiKey(models.Model):
    """A key for the partner REST API: a partner's (all its tenants) or a tenant admin's (one tenant).

    Only a SHA-256 digest is stored: the keys are long random strings, so a slow hash adds nothing.
    """

    PREFIX = "sb_"

    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=120)
    issued_by = models.ForeignKey(
        Partner,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        help_text="A tenant key a partner issued (or one issued with such a key): it works only while that "
        "partner is active and still runs the tenant.",
    )
    lookup = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(partner__isnull=False, tenant__isnull=True)
                | models.Q(partner__isnull=True, tenant__isnull=False),
                name="api_key_belongs_to_a_partner_or_a_tenant",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.PREFIX}{self.lookup}…)"

    @classmethod
    def issue(
        cls,
        *,
        name: str,
        partner: Partner | None = None,
        tenant: Tenant | None = None,
        issued_by: Partner | None = None,
    ) -> tuple[ApiKey, str]:
        """Create a key and return it with its plaintext, which is never readable again."""
        lookup = secrets.token_hex(8)
        plaintext = f"{cls.PREFIX}{lookup}{secrets.token_urlsafe(32)}"
        key = cls.objects.create(
            name=name,
            partner=partner,
            tenant=tenant,
            issued_by=issued_by if tenant is not None else None,
            lookup=lookup,
            digest=_digest(plaintext),
        )
        return key, plaintext

    def issuer_refusal(self) -> str:
        """Why a tenant key a partner issued no longer works, or "": the partner was switched off, or the
        tenant is no longer its (moved to another partner). Otherwise a partner kept every tenant it ever ran,
        through tenant keys it minted for itself."""
        issuer, tenant = self.issued_by, self.tenant
        if tenant is None or issuer is None:
            return ""
        if not issuer.active:
            return "The partner that issued this key is inactive."
        if tenant.partner_id != issuer.pk:
            return "The partner that issued this key no longer runs its tenant."
        return ""

    @classmethod
    def authenticate(cls, plaintext: str) -> ApiKey | None:
        if not plaintext.startswith(cls.PREFIX) or len(plaintext) < len(cls.PREFIX) + 16:
            return None
        lookup = plaintext[len(cls.PREFIX) : len(cls.PREFIX) + 16]
        # Every lookup is token_hex's: anything else is no key, and is not sent to the database (a NUL in
        # it, which anyone can put in a header, made PostgreSQL's query fail: a 500 instead of a 401).
        if not LOOKUP_RE.fullmatch(lookup):
            return None
        key = (
            cls.objects.filter(lookup=lookup, revoked_at__isnull=True)
            .select_related("partner", "tenant", "issued_by")
            .first()
        )
        if key is None or not secrets.compare_digest(key.digest, _digest(plaintext)):
            return None
        return key

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])


LOOKUP_RE = re.compile(r"[0-9a-f]{16}")


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class WhatsAppTemplate(TenantOwned):
    """A WhatsApp template of a sender, as the provider last listed it (a cache: see relay/outbound/template_sync.py).

    The provider stays the source of truth; rows are replaced by each sync, so the panel never asks the
    provider on every page load and new approvals appear after the next periodic sync or a refresh.
    """

    class Status(models.TextChoices):
        APPROVED = "APPROVED", "Approved"
        PENDING = "PENDING", "Pending"
        REJECTED = "REJECTED", "Rejected"

    sender = models.ForeignKey(Sender, on_delete=models.CASCADE, related_name="whatsapp_templates")
    provider_id = models.CharField(max_length=64, blank=True, help_text="The provider's id of the template.")
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=20)
    category = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=20, help_text="The provider's status: APPROVED, PENDING, ...")
    structure = models.JSONField(default=dict, blank=True, help_text="Header, body, footer and buttons.")
    fetched_at = models.DateTimeField(help_text="When the provider last listed this template.")

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "name", "language"], name="one_template_per_sender_name_language"
            )
        ]
        indexes = [models.Index(fields=["tenant", "sender", "status"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def is_approved(self) -> bool:
        return self.status.upper() == self.Status.APPROVED

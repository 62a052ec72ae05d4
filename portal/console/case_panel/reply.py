"""An agent's reply from the Case panel: checked in full first (nothing is stored or sent when anything is
wrong, and the agent reads why on the field), then handed to the Cases desk, which queues it for the
customer and writes it to the Case's transcript.

What a reply may be: text; text with up to ``CHOICES_MAX`` quick-reply choices (WhatsApp shows reply
buttons or a list, other channels a numbered list); or a file with an optional caption. On WhatsApp, free
text reaches the customer only within 24 hours of their last message; after that the panel offers the
template panel instead, so a reply that could only fail is refused here.
"""

from __future__ import annotations

from django import forms
from django.core.cache import cache
from django.core.exceptions import ValidationError

from relay.desks.cases_models import CaseLink
from tenants.models import Sender

from . import attachments

# WhatsApp's limits (Cloud API: text body 4096, interactive body 1024, caption; list rows 10, row
# description 72); Viber's text limit is 1000 (Infobip Viber API).
TEXT_MAX: dict[str, int] = {Sender.Channel.WHATSAPP: 4096, Sender.Channel.VIBER: 1000}
DEFAULT_TEXT_MAX = 4096
CHOICE_TEXT_MAX = 1024
CAPTION_MAX = 1024
CHOICES_MAX = 10
CHOICE_MAX = 72
SEND_KEY_SECONDS = 24 * 60 * 60


class ReplyForm(forms.Form):
    text = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    choices = forms.CharField(required=False, widget=forms.Textarea)
    attachment = forms.FileField(required=False, allow_empty_file=True)
    send_key = forms.CharField(required=False, max_length=64)

    def __init__(self, *args, link: CaseLink, **kwargs):
        super().__init__(*args, **kwargs)
        self.link = link
        self.stored: attachments.StoredFile | None = None

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].replace("\r\n", "\n").strip()
        limit = TEXT_MAX.get(self.link.conversation.sender.channel, DEFAULT_TEXT_MAX)
        if len(text) > limit:
            raise ValidationError(
                f"The message has {len(text)} characters; this channel takes at most {limit}."
            )
        return text

    def clean_choices(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["choices"].splitlines()]
        choices = [line for line in lines if line]
        if len(choices) > CHOICES_MAX:
            raise ValidationError(f"{len(choices)} choices: a message can offer at most {CHOICES_MAX}.")
        long = [c for c in choices if len(c) > CHOICE_MAX]
        if long:
            raise ValidationError(f"“{long[0][:40]}…” is longer than {CHOICE_MAX} characters.")
        if len({c.casefold() for c in choices}) != len(choices):
            raise ValidationError("Two choices are the same: the customer could not tell which they picked.")
        return choices

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        text, choices, upload = data.get("text", ""), data.get("choices", []), data.get("attachment")
        conversation = self.link.conversation
        if self.link.is_closed:
            raise ValidationError(
                "This Case is closed, so its conversation has ended: the customer's next message opens a "
                "Case again."
            )
        if conversation.sender.channel == Sender.Channel.WHATSAPP and not conversation.window_open():
            raise ValidationError(
                "WhatsApp's 24-hour window is closed: only an approved template reaches this customer now. "
                "Send one with “Send a template”."
            )
        if not text and not upload:
            self.add_error("text", "Write a message or attach a file.")
        if choices and upload:
            self.add_error("choices", "Quick-reply choices go with a text message, not with a file.")
        if choices and not text:
            self.add_error("text", "Write the question the choices answer.")
        if choices and len(text) > CHOICE_TEXT_MAX:
            self.add_error("text", f"With choices the text may have at most {CHOICE_TEXT_MAX} characters.")
        if upload and len(text) > CAPTION_MAX:
            self.add_error("text", f"A file's caption may have at most {CAPTION_MAX} characters.")
        if upload and not self.errors:
            try:
                self.stored = attachments.store(self.link.tenant_id, upload)
            except ValidationError as exc:
                self.add_error("attachment", exc)
        return data


def claim_send_key(link: CaseLink, key: str) -> bool:
    """Whether this form's key is new: a reply posted twice (double click, a retried request) is sent once."""
    if not key:
        return True
    return bool(cache.add(f"console:case-reply:{link.tenant_id}:{key}", 1, timeout=SEND_KEY_SECONDS))


def release_send_key(link: CaseLink, key: str) -> None:
    """The reply was refused after all: the same form may be sent again once corrected."""
    if key:
        cache.delete(f"console:case-reply:{link.tenant_id}:{key}")

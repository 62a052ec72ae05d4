"""Admin forms: secrets are write-only (shown as set / not set; an empty field keeps the old value)."""

from __future__ import annotations

from django import forms

from .fields import EncryptedTextField
from .secret_binding import address_field, stored_key_refusal


class SecretInput(forms.PasswordInput):
    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False)


class WriteOnlySecretsForm(forms.ModelForm):
    """Every EncryptedTextField becomes a password input that never renders the stored value."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._secret_names = [
            f.name
            for f in self._meta.model._meta.get_fields()
            if isinstance(f, EncryptedTextField) and f.name in self.fields
        ]
        for name in self._secret_names:
            field = self.fields[name]
            is_set = bool(getattr(self.instance, name, "")) if self.instance.pk else False
            field.widget = SecretInput()
            field.required = False
            field.initial = ""
            status = "Set – leave empty to keep it." if is_set else "Not set."
            field.help_text = f"{status} {field.help_text}".strip()

    def clean(self):
        cleaned = super().clean()
        for name in self._secret_names:
            if not cleaned.get(name) and self.instance.pk:
                address = address_field(self._meta.model, name)
                if address and address in cleaned:  # a new address needs the secret again (secret_binding)
                    refusal = stored_key_refusal(getattr(self.instance, address), cleaned[address])
                    if refusal:
                        self.add_error(name, refusal)
                cleaned[name] = getattr(self.instance, name)
        return cleaned

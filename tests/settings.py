"""Settings for the test suite: production settings with fixed test keys and fast hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# Two keys: the first encrypts, the second is an "old" one that must still decrypt.
os.environ.setdefault(
    "ENCRYPTION_KEYS",
    "wqPZgHGO5rHAvCQsW6kPiJTEZ4e4i8IkoSXCpMQcXmA=,Dv0a2C6kU1c5qzXo4cYbqUfZJwq1jvNnX5q8m5bW7UA=",
)

# Playwright's sync API runs an event loop in the test thread; Django would refuse ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from portal.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

"""Test-only plug-ins: a desk and a provider that the relay learns of from its settings alone
(SWITCHBOARD_DESKS, SWITCHBOARD_PROVIDERS), as a new Salesforce product or messaging provider would be."""

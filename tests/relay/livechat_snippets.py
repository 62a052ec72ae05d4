"""The Deployment Code and Chat Button Code as Salesforce Setup shows them (Chat → Deployments; Chat Buttons &
Invitations), for given ids: what an admin pastes into the wizard."""

from __future__ import annotations


def setup_snippets(chat_url: str, deployment_id: str, org_id: str, button_id: str) -> tuple[str, str]:
    host = chat_url.split("/chat", 1)[0]
    deployment = (
        f"<script type='text/javascript' src='{host}/content/g/js/62.0/deployment.js'></script>\n"
        "<script type='text/javascript'>\n"
        f"liveagent.init('{chat_url}', '{deployment_id}', '{org_id}');\n"
        "</script>"
    )
    button = (
        f'<a id="liveagent_button_online_{button_id}" href="javascript://Chat" style="display: none;" '
        f"onclick=\"liveagent.startChat('{button_id}')\"><!-- Online Chat Content --></a>"
        f'<div id="liveagent_button_offline_{button_id}" style="display: none;"><!-- Offline Chat Content --></div>'
        '<script type="text/javascript">\nif (!window._laq) { window._laq = []; }\n'
        f"window._laq.push(function(){{liveagent.showWhenOnline('{button_id}', "
        f"document.getElementById('liveagent_button_online_{button_id}'));\n"
        f"liveagent.showWhenOffline('{button_id}', document.getElementById('liveagent_button_offline_{button_id}'));\n"
        "});</script>"
    )
    return deployment, button

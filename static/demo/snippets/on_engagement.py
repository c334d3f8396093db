# A Python onEngagement callback: it gets the same outcome as the JavaScript one, as a dict.
from pyscript import document

from engage_web.browser.page import bind


def show(outcome: dict) -> None:
    """Say, from Python, what the last check found."""
    if outcome["status"] == "Available":
        skill = outcome["engagementDetails"].get("skillName", "an agent")
        text = f"Python saw: Available, {skill} can chat now."
    elif outcome["status"] == "NotAvailable":
        text = "Python saw: NotAvailable, nobody to chat with right now."
    else:
        text = f"Python saw: Error {outcome['error']['code']}: {outcome['error']['message']}"
    document.querySelector("#python-outcome").textContent = text   # text, never HTML


bind("onEngagement", show)
document.querySelector("#python-outcome").textContent = "Python callback bound: run a check."

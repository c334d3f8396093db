// Show a chat button while an engagement is Available, and report what the visitor sees
// (impDisplay) and does (impAccept). Server data is shown as text only: never innerHTML.
ChatApi.bind("onEngagement", function (outcome) {
  var slot = document.getElementById("engagement-slot");
  slot.replaceChildren();                            // at most one button, always the latest
  if (outcome.status !== "Available") return;

  var details = outcome.engagementDetails;
  var impression = {
    campaign: Number(details.campaignId),
    engId: Number(details.engagementId),
    revision: details.engagementRevision,
    eContext: [{ type: "engagementContext", id: String(details.contextId) }],
  };
  function report(type) {
    ChatApi.report([Object.assign({ type: type }, impression)]).then(function (result) {
      slot.dispatchEvent(new CustomEvent("impression", { detail: { type: type, result: result } }));
    });
  }

  var button = document.createElement("button");
  button.type = "button";
  button.className = "engagement-button";
  button.textContent = "Chat with " + (details.skillName || "us");
  button.addEventListener("click", function () { report("impAccept"); }, { once: true });
  slot.append(button);
  report("impDisplay");
});

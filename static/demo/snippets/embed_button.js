// Show the chat button only while an agent is available; text only, never innerHTML.
(function () {
  var button = document.getElementById("chat-button");
  var sections = document.currentScript.dataset.sections || "";
  var impression = null;

  ChatApi.bind("onEngagement", function (outcome) {
    var details = outcome.status === "Available" ? outcome.engagementDetails : null;
    button.hidden = !details;
    if (!details) return;
    button.textContent = "Chat with " + (details.skillName || "us");
    impression = {
      campaign: Number(details.campaignId),
      engId: Number(details.engagementId),
      revision: details.engagementRevision,
      eContext: [{ type: "engagementContext", id: String(details.contextId) }],
    };
    ChatApi.report([Object.assign({ type: "impDisplay" }, impression)]);
  });

  button.addEventListener("click", function () {
    if (impression) ChatApi.report([Object.assign({ type: "impAccept" }, impression)]);
  });

  ChatApi.getEngagement({ consumerSections: sections });
})();

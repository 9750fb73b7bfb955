// A second person's decision on someone else's request (a refund, an account correction): the
// dialog, the reason a rejection needs before anything is sent, the POST, and the four-eyes
// refusal in words the finance user knows. The server enforces who may decide; the page explains.
import { api, messageOf } from "./api.js";
import { $ } from "./dom.js";

/**
 * Wires one decision dialog and returns ``open(subject, action)``. ``ids`` names its elements
 * (dialog, form, title, noteLabel, note, confirm, error); ``actions`` holds, for approve and
 * reject, the title, confirm text and class, note label and ``done(decided)`` words. ``path``
 * and ``fill`` (the request's facts) take (subject, action); ``rejectHint`` says why a rejection
 * needs a reason, ``ownRequest`` answers the requester's own decision, ``lateCode`` is the
 * refusal of a request decided meanwhile; ``flash``, ``decided(view)``, ``reload`` and
 * ``authLost`` are the page's.
 */
export function decisionDialog(o) {
  const id = (name) => $(o.ids[name]);
  let deciding = null; // {subject, action}

  async function decide(event) {
    event.preventDefault();
    if (!deciding) return;
    const { subject, action } = deciding;
    const note = id("note").value.trim();
    if (action === "reject" && !note) {
      id("note").setAttribute("aria-invalid", "true");
      id("error").textContent = o.rejectHint;
      id("note").focus();
      return;
    }
    const confirm = id("confirm");
    confirm.disabled = true;
    try {
      const decided = await api("POST", o.path(subject, action), { body: note ? { note } : {} });
      id("dialog").close();
      o.flash(o.actions[action].done(decided));
      await o.decided(decided);
    } catch (err) {
      if (err.status === 401) o.authLost();
      const code = err.problem && err.problem.code;
      id("error").textContent = code === "FOUR_EYES" ? o.ownRequest : messageOf(err);
      if (code === o.lateCode) o.reload();
    } finally {
      confirm.disabled = false;
    }
  }

  id("form").addEventListener("submit", decide);
  id("note").addEventListener("input", () => id("note").removeAttribute("aria-invalid"));

  return function open(subject, action) {
    const a = o.actions[action];
    deciding = { subject, action };
    id("title").textContent = a.title;
    o.fill(subject, a);
    id("noteLabel").textContent = a.label;
    const note = id("note");
    note.value = "";
    note.removeAttribute("aria-invalid");
    const confirm = id("confirm");
    confirm.textContent = a.confirm;
    confirm.className = a.className;
    id("error").textContent = "";
    id("dialog").className = `decide-${action}`;
    id("dialog").showModal();
    note.focus();
  };
}

// Calls of the unattended screens (the kiosk, the customer display): they are signed in by the
// device's cookie, not a person's bearer token, and must never throw at a citizen — a lost network
// answers status 0 and an unreadable body answers data null, for the screen to decide what to show.

export async function deviceCall(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    return { status: 0, data: null };
  }
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  return { status: resp.status, data };
}

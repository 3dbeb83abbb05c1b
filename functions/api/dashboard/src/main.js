// The dashboard's script, bundled by esbuild (npm run build: dist/app.js) with uPlot, the one
// library it uses, pinned in package-lock.json. Served by the api function with the page.
import uPlot from "uplot";

// Served by the API function at /dashboard. The API is this page's own base; the SSE and
// WebSocket URLs come from /dashboard/config.json unless ?sse= / ?ws= name others (the local
// stack's `make watch` SSE URL). ?transport=websocket listens over WebSocket instead of SSE.
const apiBase = location.origin + location.pathname.replace(/\/dashboard\/?$/, "");
const $ = (id) => document.getElementById(id);
const text = (v) => (v === undefined || v === null ? "" : String(v));
let token = "";
let config = null;
let refreshTimer = null;
let sources = [];
let pending = {};

// Sign-in: Cognito's Hosted UI, the authorization-code flow with PKCE, for the stack's public
// app client. Tokens stay in this tab's sessionStorage, never in the address bar: the code is
// taken out of it before it is exchanged. The ID token is refreshed 5 minutes before it expires.
const AUTH = "dashboard.auth";
const PKCE = "dashboard.pkce";
const redirectUri = () => location.origin + location.pathname;
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

async function signIn() {
  const verifier = random(32), state = random(16);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state, back: location.search }));
  const q = new URLSearchParams({
    response_type: "code", client_id: config.sign_in.client_id, redirect_uri: redirectUri(),
    scope: "openid email profile", state, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(config.sign_in.authorize_url + "?" + q);
}

async function tokenRequest(fields) {
  const r = await fetch(config.sign_in.token_url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: config.sign_in.client_id, ...fields }),
  });
  if (!r.ok) throw new Error("sign-in refused (" + r.status + ")");
  const t = await r.json();
  const before = JSON.parse(sessionStorage.getItem(AUTH) || "{}");
  const auth = {
    id_token: t.id_token,
    refresh_token: t.refresh_token || before.refresh_token,
    expires_at: Date.now() + 1000 * (t.expires_in || 3600),
  };
  sessionStorage.setItem(AUTH, JSON.stringify(auth));
  return auth;
}

// Back from the Hosted UI with ?code=&state=.
async function completeSignIn() {
  const q = new URLSearchParams(location.search);
  const pkce = JSON.parse(sessionStorage.getItem(PKCE) || "null");
  sessionStorage.removeItem(PKCE);
  history.replaceState(null, "", redirectUri() + ((pkce && pkce.back) || ""));
  if (!pkce || q.get("state") !== pkce.state) throw new Error("sign-in: the answer does not match the request");
  return tokenRequest({
    grant_type: "authorization_code", code: q.get("code"), redirect_uri: redirectUri(),
    code_verifier: pkce.verifier,
  });
}

function scheduleRefresh(auth) {
  clearTimeout(refreshTimer);
  const wait = Math.max(auth.expires_at - Date.now() - 5 * 60 * 1000, 10 * 1000);
  refreshTimer = setTimeout(async () => {
    try {
      const next = await tokenRequest({ grant_type: "refresh_token", refresh_token: auth.refresh_token });
      token = next.id_token;
      scheduleRefresh(next);
    } catch (e) { report(e); }
  }, wait);
}

function signOut() {
  clearTimeout(refreshTimer);
  sources.forEach((s) => s.close());
  sessionStorage.clear();
  token = "";
  const q = new URLSearchParams({ client_id: config.sign_in.client_id, logout_uri: redirectUri() });
  location.assign(config.sign_in.logout_url + "?" + q);
}

function claims(jwt) {
  try { return JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))); }
  catch { return {}; }
}

function cell(row, value, cls) {
  const td = row.insertCell();
  td.textContent = text(value);
  if (cls) td.className = cls;
  return td;
}

async function api(path) {
  const r = await fetch(apiBase + path, { headers: { authorization: "Bearer " + token } });
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

// The campaigns read last; the search, status filter and sort apply to them without a request.
let campaigns = [];

function shownCampaigns() {
  const text = $("campaign-search").value.trim().toLowerCase();
  const status = $("campaign-status").value;
  const sort = $("campaign-sort").value;
  const by = {
    name: (a, b) => (a.name || a.campaign_id).localeCompare(b.name || b.campaign_id),
    status: (a, b) => a.status.localeCompare(b.status),
    registered: (a, b) => (b.registered || 0) - (a.registered || 0),
    failed: (a, b) => (b.reached_failed || 0) - (a.reached_failed || 0),
  }[sort];
  return campaigns
    .filter((c) => !status || c.status === status)
    .filter((c) => !text || (c.name || "").toLowerCase().includes(text) || c.campaign_id.toLowerCase().includes(text))
    .sort(by);
}

// Every campaign of the tenant, a page of 500 at a time, then one render.
async function loadCampaigns() {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 50; page++) {
    const read = await api("/campaigns?limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    items.push(...read.items);
    cursor = read.next_cursor;
    if (!cursor) break;
  }
  if (!performance.getEntriesByName("campaigns-fetched").length) performance.mark("campaigns-fetched");
  campaigns = items;
  renderCampaigns();
}

function renderCampaigns() {
  const shown = shownCampaigns();
  $("campaign-count").textContent = number(shown.length) + " of " + number(campaigns.length);
  const body = $("campaigns");
  body.replaceChildren();
  for (const c of shown) {
    const row = body.insertRow();
    row.id = "campaign-" + c.campaign_id;
    row.className = "selectable";
    row.dataset.status = c.status;
    const open = document.createElement("button");
    open.textContent = c.name || c.campaign_id;
    open.onclick = () => showCampaign(c.campaign_id).catch(report);
    row.insertCell().appendChild(open);
    cell(row, c.status, c.status + " status");
    const bar = document.createElement("div");
    bar.className = "bar";
    const total = Math.max(Number(c.registered || 0), 1);
    for (const k of ["sent", "delivered", "read"]) {
      const span = document.createElement("span");
      span.className = k;
      span.style.width = (100 * Number(c["reached_" + k] || 0) / total).toFixed(1) + "%";
      bar.appendChild(span);
    }
    row.insertCell().appendChild(bar);
    cell(row, c.registered || 0, "registered");
    for (const k of ["sent", "delivered", "read", "failed"]) cell(row, c["reached_" + k] || 0, k);
  }
  // The first render's time, for the browser test's figure (performance.getEntriesByName).
  if (!performance.getEntriesByName("campaigns-rendered").length) performance.mark("campaigns-rendered");
}

async function loadTemplates() {
  const [{ items }, summary] = await Promise.all([api("/templates/critical"), api("/templates/quality-summary")]);
  const body = $("critical");
  body.replaceChildren();
  for (const t of items) {
    const row = body.insertRow();
    row.id = "template-" + t.template_id;
    row.dataset.status = t.status;
    cell(row, t.template_id);
    cell(row, t.name);
    cell(row, t.status, t.status + " status");
    cell(row, t.quality, t.quality);
    cell(row, (t.open_alerts || []).length);
  }
  const counts = (by) => Object.entries(by || {}).map(([k, n]) => k + " " + number(n)).join(", ") || "none";
  $("summary").textContent = number(summary.total) + " templates · quality: " + counts(summary.by_quality) +
    " · status: " + counts(summary.by_status);
}

// Bursts of events refresh each view once.
function refreshSoon(what, load) {
  if (pending[what]) return;
  pending[what] = setTimeout(() => { pending[what] = null; load().catch(report); }, 200);
}

function report(e) { log("error: " + e.message); }

// A live message in words (the event log shows no raw JSON).
function describe(m) {
  const d = m.data || {};
  const u = d.data || d;
  switch (m.type) {
    case "report_update":
      return (m.campaign_id || "") + ": " + String(u.wamid || "").slice(-10) + " " + (u.from || "") + " → " + (u.to || "") +
        (u.error ? " (" + u.error.code + " " + u.error.title + ")" : "");
    case "campaign_paused": case "campaign_resumed":
      return (m.campaign_id || "") + " " + (u.cause || u.reason || "");
    case "template_update":
      return "template " + (u.template_id || "") + " " + (u.event || u.status || u.quality || "");
    case "alert":
      return (u.severity || "") + " " + (u.title || u.kind || "");
    default:
      return m.campaign_id || "";
  }
}

function log(line) {
  const el = $("log");
  el.textContent = new Date().toISOString().slice(11, 23) + " " + line + "\n" + el.textContent.slice(0, 8000);
}

function listen(sseBase) {
  sources.forEach((s) => s.close());
  sources = [];
  for (const stream of ["reports", "templates"]) {
    const url = sseBase.replace(/\/$/, "") + "/realtime/" + stream + "?token=" + encodeURIComponent(token);
    const source = new EventSource(url);
    // EventSource reconnects by itself, with Last-Event-ID: the stream resumes where it was.
    source.onopen = () => setLive("open", "live");
    source.onerror = () => setLive(navigator.onLine ? "reconnecting" : "offline", navigator.onLine ? "reconnecting" : "offline");
    const kinds = stream === "reports"
      ? ["report_update", "campaign_paused", "campaign_resumed", "campaign_progress", "test_event"]
      : ["template_update", "alert", "account_update", "test_event"];
    for (const kind of kinds) {
      source.addEventListener(kind, (e) => {
        let message = {};
        try { message = JSON.parse(e.data); } catch { /* logged by type alone */ }
        log(kind + " " + describe(message));
        if (stream === "reports") {
          refreshSoon("campaigns", loadCampaigns);
          if (selected) refreshSoon("detail", () => showCampaign(selected));
        }
        else refreshSoon("templates", loadTemplates);
        if (kind === "campaign_paused" || kind === "campaign_resumed") refreshSoon("campaigns", loadCampaigns);
      });
    }
    sources.push(source);
  }
}

// Over WebSocket: the default topics (reports, templates, alerts). A dropped socket reconnects
// with exponential backoff and jitter (1 s doubling to 30 s, each wait 50-100 % of it), and on
// reconnecting reads what it missed from GET /feed since the last feed id it had: nothing is
// lost. The token goes in the query string, as for EventSource (on AWS the `bearer` subprotocol
// also works).
let lastFeedId = null;
let socketAttempts = 0;

function setLive(state, label) {
  const live = $("live");
  live.dataset.state = state;
  live.textContent = label;
}

// The smallest feed id at `ms` (feed ids are UUIDv7: time first).
function feedIdAt(ms) {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-7000-8000-000000000000";
}

function onMessage(m) {
  if (m.id && (!lastFeedId || m.id > lastFeedId)) lastFeedId = m.id;
  log(m.type + " " + describe(m));
  if (["report_update", "campaign_progress", "campaign_paused", "campaign_resumed"].includes(m.type)) {
    refreshSoon("campaigns", loadCampaigns);
    if (selected && (!m.campaign_id || m.campaign_id === selected)) {
      refreshSoon("detail", () => showCampaign(selected));
    }
  }
  if (["template_update", "alert", "account_update", "campaign_paused"].includes(m.type)) {
    refreshSoon("templates", loadTemplates);
  }
}

async function catchUp() {
  let after = lastFeedId;
  for (let page = 0; page < 50; page++) {
    const read = await api("/feed?after=" + encodeURIComponent(after));
    read.items.forEach(onMessage);
    after = read.last;
    if (!read.more) break;
  }
  if (!lastFeedId || after > lastFeedId) lastFeedId = after;
}

function listenWebSocket(wsBase) {
  const socket = new WebSocket(wsBase + "?token=" + encodeURIComponent(token));
  socket.onopen = () => {
    socketAttempts = 0;
    setLive("open", "live (websocket)");
    catchUp().catch(report);
  };
  socket.onclose = () => {
    const delay = Math.min(30000, 1000 * 2 ** socketAttempts++) * (0.5 + Math.random() / 2);
    setLive(navigator.onLine ? "reconnecting" : "offline", navigator.onLine ? "reconnecting" : "offline");
    setTimeout(() => listenWebSocket(wsBase), delay);
  };
  socket.onmessage = (e) => onMessage(JSON.parse(e.data));
  window.dashboardSocket = socket; // the browser test drops it to check the resume
}


// ---------------------------------------------------------------- campaign detail
// The funnel, statuses per 5 minutes over the last 24 hours, failures with Meta's meaning and
// what to do, the buttons recipients pressed, the holds with their cause, and pause/resume for
// operators (a viewer sees the buttons disabled, with the reason).
let selected = null;
let chart = null;
const OPERATOR_ROLES = ["org_admin", "super_admin"];
const number = (n) => new Intl.NumberFormat().format(n || 0);
const percent = (r) => new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 }).format(r || 0);

// What a hold means, in words: its kind is the part before the colon.
function holdCause(hold) {
  const [kind, subject] = hold.split(":");
  return {
    template: "template " + subject + " is paused or disabled",
    failure_spike: "failure spike (the circuit breaker)",
    blocked: "account blocked on number " + subject,
    flagged: "number " + subject + " flagged by Meta",
    ban: "account banned (" + subject + ")",
    manual: "paused by a person",
  }[kind] || hold;
}

async function showCampaign(id) {
  selected = id;
  const panel = $("detail");
  panel.hidden = false;
  panel.setAttribute("aria-busy", "true");
  const path = "/campaigns/" + encodeURIComponent(id);
  const [c, timeline, failures, replies] = await Promise.all([
    api(path), api(path + "/timeline"), api(path + "/failures"), api(path + "/replies"),
  ]);
  panel.dataset.campaign = id;
  panel.dataset.status = c.status;
  $("detail-title").textContent = (c.name || c.campaign_id) + " (" + c.status + ")";

  const funnel = $("funnel");
  funnel.replaceChildren();
  for (const [label, value, rate] of [
    ["registered", c.registered, null],
    ["sent", c.reached.sent, null],
    ["delivered", c.reached.delivered, c.rates.delivery],
    ["read", c.reached.read, c.rates.read],
    ["replied", c.reached.replied, c.rates.reply],
  ]) {
    const box = document.createElement("div");
    box.dataset.step = label;
    const b = document.createElement("b");
    b.textContent = number(value);
    box.append(b, label + (rate === null ? "" : " · " + percent(rate)));
    funnel.appendChild(box);
  }

  drawTimeline(timeline);

  const rows = $("failures");
  rows.replaceChildren();
  for (const f of failures.items) {
    const row = rows.insertRow();
    row.dataset.code = f.code;
    cell(row, f.code);
    cell(row, number(f.count) + " (" + percent(f.share) + ")");
    cell(row, f.title);
    cell(row, f.class.replace("_", " "));
    cell(row, f.action);
  }
  $("failures-empty").hidden = failures.items.length > 0;

  const buttons = $("buttons");
  buttons.replaceChildren();
  for (const b of replies.buttons) {
    const li = document.createElement("li");
    li.textContent = b.payload + ": " + number(b.count);
    buttons.appendChild(li);
  }
  $("buttons-empty").hidden = replies.buttons.length > 0;

  const holds = $("holds");
  holds.replaceChildren();
  const all = [...c.pause.holds, ...(c.pause.paused_by_user ? ["manual"] : [])];
  for (const h of all) {
    const li = document.createElement("li");
    li.dataset.hold = h;
    li.textContent = holdCause(h) + (h === "manual" && c.pause.reason ? ": " + c.pause.reason : "");
    holds.appendChild(li);
  }
  $("holds-empty").hidden = all.length > 0;

  const operator = OPERATOR_ROLES.includes($("user").dataset.role);
  for (const [button, action, usable] of [
    [$("pause"), "pause", c.status === "ACTIVE"],
    [$("resume"), "resume", c.status === "PAUSED"],
  ]) {
    button.disabled = !operator || !usable;
    button.onclick = () => act(id, action).catch(report);
  }
  $("actions-why").textContent = operator ? "" : "Pausing and resuming needs the org_admin role; you are a viewer.";
  panel.removeAttribute("aria-busy");
}

async function act(id, action) {
  const r = await fetch(apiBase + "/campaigns/" + encodeURIComponent(id) + "/" + action, {
    method: "POST",
    headers: { authorization: "Bearer " + token, "content-type": "application/json" },
    body: JSON.stringify(action === "pause" ? { reason: "paused from the dashboard" } : {}),
  });
  const body = await r.json().catch(() => ({}));
  $("actions-why").textContent = r.ok ? "" : (body.detail || body.title || action + " refused (" + r.status + ")");
  await Promise.all([showCampaign(id), loadCampaigns()]);
}

function drawTimeline(timeline) {
  const xs = timeline.items.map((p) => p.start);
  const series = ["sent", "delivered", "read", "failed", "replied"];
  const data = [xs, ...series.map((s) => timeline.items.map((p) => p[s]))];
  const colors = ["#9ecbff", "#4ea1ff", "#1f6feb", "#cf222e", "#1a7f37"];
  const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  $("timeline-title").textContent = "Statuses per 5 minutes, " + when.format(timeline.from * 1000) +
    " to " + when.format(timeline.to * 1000);
  const box = $("timeline");
  box.dataset.points = String(xs.length);
  box.dataset.total = String(series.reduce((n, s) => n + timeline.items.reduce((m, p) => m + p[s], 0), 0));
  if (chart) chart.destroy();
  chart = new uPlot({
    width: Math.max(320, box.clientWidth || 900),
    height: 220,
    series: [{}, ...series.map((label, i) => ({ label, stroke: colors[i], width: 2 }))],
    axes: [{}, { values: (u, vals) => vals.map((v) => number(v)) }],
  }, data, box);
}

async function start() {
  const params = new URLSearchParams(location.search);
  try {
    await Promise.all([loadCampaigns(), loadTemplates()]);
    if (params.get("transport") === "websocket") {
      lastFeedId = feedIdAt(Date.now() - 3000);
      listenWebSocket(params.get("ws") || config.websocket_url);
    }
    else listen(params.get("sse") || config.sse_url);
  } catch (e) { report(e); }
}

for (const id of ["campaign-search", "campaign-status", "campaign-sort"]) {
  $(id).addEventListener("input", renderCampaigns);
}

async function boot() {
  config = await fetch(apiBase + "/dashboard/config.json").then((r) => r.json());
  if (!config.sign_in) { $("user").textContent = "sign-in is not configured for this stack"; return; }
  $("sign-in").onclick = () => signIn().catch(report);
  $("sign-out").onclick = signOut;
  let auth = JSON.parse(sessionStorage.getItem(AUTH) || "null");
  try {
    if (new URLSearchParams(location.search).has("code")) auth = await completeSignIn();
    else if (auth && auth.expires_at < Date.now() + 60 * 1000 && auth.refresh_token) {
      auth = await tokenRequest({ grant_type: "refresh_token", refresh_token: auth.refresh_token });
    }
  } catch (e) { report(e); auth = null; }
  if (!auth || auth.expires_at < Date.now()) {
    $("sign-in").hidden = false;
    return;
  }
  token = auth.id_token;
  const who = claims(token);
  $("user").textContent = (who.email || "signed in") + " (" + (who["custom:role"] || "?") + ", " + (who["custom:org_id"] || "?") + ")";
  $("user").dataset.role = who["custom:role"] || "";
  $("sign-out").hidden = false;
  scheduleRefresh(auth);
  start();
}

boot().catch(report);
